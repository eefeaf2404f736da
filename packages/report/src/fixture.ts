/**
 * A realistic, deterministic {@link ReportData} for tests and for working on the report page
 * without a detector run (`haystack report --fixture`). Shaped like the paper's ISP results:
 * 4 platforms, 20 manufacturers and 11 products detectable, a few with no detection, classes the
 * hitlist cannot detect (with the kind of reasons the hitlist build gives), diurnal hourly profiles
 * (the ISP is taken to be in UTC+1: TV evenings peak at 19–20 UTC), and one exporter with
 * problems: part of its flows with unknown sampling rate, sequence gaps and lost packets.
 * Class ids and names come from rules/classes.yaml.
 */
import { seededRandom } from '@haystack/common';
import { lossUnit } from '@haystack/flow-core';
import type { Level, ReportClass, ReportData, ReportExporter } from './data.js';

export interface ReportFixtureOptions {
  /** Report day, default 2026-11-20. */
  day?: string;
  /** false = no previous day in storage (every *Previous is null, no churn). Default true. */
  withPrevious?: boolean;
  /** true = no data-quality problem anywhere (every exporter healthy, known sampling). */
  clean?: boolean;
  /** Seed for the small variations (hourly noise, previous day); default 20201027. */
  seed?: number;
}

/** Hourly shapes: the share of the day's detected lines that show up within each UTC hour. */
type Shape = 'always-on' | 'voice' | 'tv' | 'camera' | 'appliance';

interface ClassSpec {
  id: string;
  name: string;
  level: Level;
  parents: string[];
  lines: number;
  shape: Shape;
  /** Relative change from the previous day to this one, when it is a story of its own. */
  change?: number;
  /** Previous day's count, when it must be exact (e.g. zero today, not yesterday). */
  previous?: number;
}

const P = 'platform' as const;
const M = 'manufacturer' as const;
const R = 'product' as const;

const CLASSES: ClassSpec[] = [
  { id: 'alexa', name: 'Alexa Voice Service', level: P, parents: [], lines: 148_231, shape: 'voice' },
  { id: 'tuya', name: 'Tuya IoT cloud (Smart Life)', level: P, parents: [], lines: 21_487, shape: 'always-on', change: -0.062 },
  { id: 'xiaomi-miot', name: 'Xiaomi Mi IoT cloud (Mi Home)', level: P, parents: [], lines: 9_812, shape: 'always-on' },
  { id: 'electric-imp', name: 'Electric Imp', level: P, parents: [], lines: 37, shape: 'appliance', previous: 41 },

  { id: 'amazon', name: 'Amazon', level: M, parents: [], lines: 132_904, shape: 'voice' },
  { id: 'samsung', name: 'Samsung Electronics', level: M, parents: [], lines: 98_377, shape: 'tv' },
  { id: 'philips', name: 'Philips (Signify)', level: M, parents: [], lines: 27_664, shape: 'always-on' },
  { id: 'tplink', name: 'TP-Link (Kasa)', level: M, parents: [], lines: 19_072, shape: 'always-on' },
  { id: 'ring', name: 'Ring (Amazon)', level: M, parents: [], lines: 17_903, shape: 'camera', change: 0.096 },
  { id: 'roku', name: 'Roku', level: M, parents: [], lines: 12_455, shape: 'tv' },
  { id: 'nest', name: 'Google Nest', level: M, parents: [], lines: 11_502, shape: 'always-on' },
  { id: 'xiaomi', name: 'Xiaomi', level: M, parents: ['xiaomi-miot'], lines: 8_903, shape: 'always-on' },
  { id: 'smartthings', name: 'SmartThings (Samsung)', level: M, parents: [], lines: 6_214, shape: 'always-on' },
  { id: 'xiongmai', name: 'Hangzhou Xiongmai (XMEye / iCSee)', level: M, parents: [], lines: 5_487, shape: 'camera' },
  { id: 'blink', name: 'Blink (Amazon)', level: M, parents: [], lines: 4_021, shape: 'camera' },
  { id: 'netatmo', name: 'Netatmo', level: M, parents: [], lines: 3_941, shape: 'always-on' },
  { id: 'reolink', name: 'Reolink', level: M, parents: [], lines: 3_318, shape: 'camera' },
  { id: 'honeywell', name: 'Honeywell', level: M, parents: [], lines: 3_106, shape: 'always-on' },
  { id: 'meross', name: 'Meross', level: M, parents: [], lines: 2_877, shape: 'appliance' },
  { id: 'dlink', name: 'D-Link', level: M, parents: [], lines: 2_245, shape: 'camera', change: -0.031 },
  { id: 'amcrest', name: 'Amcrest', level: M, parents: [], lines: 1_873, shape: 'camera' },
  { id: 'osram', name: 'OSRAM (Lightify)', level: M, parents: [], lines: 412, shape: 'always-on' },
  { id: 'smarter', name: 'Smarter', level: M, parents: ['electric-imp'], lines: 29, shape: 'appliance', previous: 30 },
  { id: 'insteon', name: 'Insteon', level: M, parents: [], lines: 0, shape: 'always-on', previous: 0 },

  { id: 'samsung-smart-tv', name: 'Samsung smart TV', level: R, parents: ['samsung'], lines: 88_140, shape: 'tv' },
  { id: 'amazon-echo-dot', name: 'Amazon Echo Dot', level: R, parents: ['amazon', 'alexa'], lines: 61_288, shape: 'voice' },
  { id: 'amazon-fire-tv', name: 'Amazon Fire TV', level: R, parents: ['amazon', 'alexa'], lines: 44_917, shape: 'tv' },
  { id: 'philips-hue-bridge', name: 'Philips Hue bridge', level: R, parents: ['philips'], lines: 21_052, shape: 'always-on' },
  { id: 'ring-doorbell', name: 'Ring doorbell', level: R, parents: ['ring'], lines: 15_287, shape: 'camera', change: 0.104 },
  { id: 'roku-tv', name: 'Roku TV', level: R, parents: ['roku'], lines: 11_902, shape: 'tv' },
  { id: 'tplink-plug', name: 'TP-Link smart plug', level: R, parents: ['tplink'], lines: 9_416, shape: 'appliance' },
  { id: 'nest-thermostat', name: 'Nest thermostat', level: R, parents: ['nest'], lines: 7_733, shape: 'always-on' },
  { id: 'smartthings-hub', name: 'SmartThings hub', level: R, parents: ['smartthings'], lines: 5_870, shape: 'always-on' },
  { id: 'xiaomi-hub', name: 'Xiaomi gateway hub', level: R, parents: ['xiaomi', 'xiaomi-miot'], lines: 2_611, shape: 'always-on' },
  { id: 'dlink-motion-sensor', name: 'D-Link motion sensor', level: R, parents: ['dlink'], lines: 0, shape: 'camera', previous: 1 },
];

const NOT_DETECTABLE: { classId: string; name: string; reason: string }[] = [
  {
    classId: 'harman-kardon-allure',
    name: 'Harman Kardon Allure (Alexa built in)',
    reason: 'no dedicated domain of its own: it reaches only Alexa platform domains (detected as the Alexa platform)',
  },
  {
    classId: 'amazon-echo-plus',
    name: 'Amazon Echo Plus',
    reason: 'same domain set as Amazon Echo Dot: the two cannot be told apart (detected as manufacturer Amazon)',
  },
  {
    classId: 'samsung-fridge',
    name: 'Samsung smart fridge',
    reason: 'primary domains resolve to addresses shared with other Samsung backends: not exclusive at product level',
  },
  {
    classId: 'samsung-dryer',
    name: 'Samsung smart dryer',
    reason: 'primary domains resolve to addresses shared with other Samsung backends: not exclusive at product level',
  },
  { classId: 'ge-appliances', name: 'GE Appliances', reason: 'primary domains hosted on shared cloud addresses (amazonaws.com) during the look-back window' },
  { classId: 'luohe', name: 'Luohe (spy camera brand)', reason: 'no passive DNS resolution of its primary domains in the 14-day window, no certificate match' },
  { classId: 'magichome', name: 'Magic Home', reason: '1 dedicated primary domain, policy requires 2 (min-primary)' },
  { classId: 'anova', name: 'Anova Culinary', reason: 'servers behind a shared CDN; certificate fallback found no dedicated address' },
];

/** Smooth bump centred on hour c (wrapping around midnight) with width w hours. */
const bump = (h: number, c: number, w: number) => {
  const d = Math.min(Math.abs(h - c), 24 - Math.abs(h - c));
  return Math.exp(-(d * d) / (2 * w * w));
};

function shapeAt(shape: Shape, h: number): number {
  switch (shape) {
    case 'always-on': // heartbeats all day, a little more traffic while people are home
      return 0.62 + 0.08 * bump(h, 19, 4);
    case 'voice': // keep-alive all day plus morning and evening use
      return 0.48 + 0.12 * bump(h, 6, 1.5) + 0.22 * bump(h, 18.5, 2.5);
    case 'tv': // switched on in the evening
      return 0.08 + 0.12 * bump(h, 12, 3) + 0.5 * bump(h, 19.5, 2);
    case 'camera': // uploads on motion: daytime and evenings
      return 0.42 + 0.16 * bump(h, 14, 4) + 0.08 * bump(h, 19, 2);
    case 'appliance': // used a few times a day
      return 0.12 + 0.2 * bump(h, 6, 1.5) + 0.25 * bump(h, 17.5, 2);
  }
}

function nextDay(day: string, delta: number): string {
  const t = Date.parse(`${day}T00:00:00Z`);
  if (!Number.isFinite(t)) throw new Error(`not a day (YYYY-MM-DD): ${day}`);
  return new Date(t + delta * 86_400_000).toISOString().slice(0, 10);
}

export const FIXTURE_DAY = '2026-11-20';

export function reportFixture(opts: ReportFixtureOptions = {}): ReportData {
  const day = opts.day ?? FIXTURE_DAY;
  const withPrevious = opts.withPrevious ?? true;
  const clean = opts.clean ?? false;
  const rnd = seededRandom(opts.seed ?? 20201027);
  const noise = (amp: number) => (rnd() * 2 - 1) * amp;

  const active = 1_284_513;
  const activePrevious = withPrevious ? 1_279_870 : null;

  const classes: ReportClass[] = CLASSES.map((c) => {
    const hourly: number[] = [];
    for (let h = 0; h < 24; h++) {
      const v = Math.round(c.lines * shapeAt(c.shape, h) * (1 + noise(0.03)));
      hourly.push(Math.max(0, Math.min(c.lines, v)));
    }
    // Drawn for every class, used or not, so the options never shift the other draws.
    const drift = noise(0.015);
    let previous: number | null = null;
    if (withPrevious) {
      if (c.previous !== undefined) previous = c.previous;
      else if (c.change !== undefined) previous = Math.round(c.lines / (1 + c.change));
      else previous = Math.round(c.lines * (1 + drift));
    }
    return {
      classId: c.id,
      name: c.name,
      level: c.level,
      parents: [...c.parents],
      detectedLines: c.lines,
      detectedLinesPrevious: previous,
      shareOfActive: c.lines / active,
      hourly,
    };
  });

  const byLevel = { platform: 0, manufacturer: 0, product: 0 } as Record<Level, number>;
  for (const c of classes) byLevel[c.level]++;

  const healthy = (
    e: Omit<ReportExporter, 'sequenceGaps' | 'lost' | 'lostUnit' | 'malformed' | 'missingTemplateSets' | 'samplesLost' | 'sampleDrops'>,
  ): ReportExporter => ({
    ...e,
    sequenceGaps: 0,
    lost: 0,
    lostUnit: lossUnit(e.version),
    malformed: 0,
    missingTemplateSets: 0,
    samplesLost: 0,
    sampleDrops: 0,
  });
  const exporters: ReportExporter[] = [
    healthy({ exporter: '192.0.2.1', version: 9, observationDomain: 0, records: 412_883_105, samplingRates: [1000] }),
    healthy({ exporter: '192.0.2.2', version: 9, observationDomain: 0, records: 398_120_774, samplingRates: [1000] }),
    healthy({ exporter: '192.0.2.3', version: 10, observationDomain: 1, records: 287_553_219, samplingRates: [512] }),
    clean
      ? healthy({ exporter: '198.51.100.7', version: 9, observationDomain: 1, records: 95_312_448, samplingRates: [1000] })
      : {
          exporter: '198.51.100.7',
          version: 9,
          observationDomain: 1,
          records: 95_312_448,
          samplingRates: [0, 1000],
          sequenceGaps: 1_284,
          lost: 9_731,
          lostUnit: 'packets',
          malformed: 0,
          missingTemplateSets: 312,
          samplesLost: 0,
          sampleDrops: 0,
        },
    clean
      ? healthy({ exporter: '203.0.113.4', version: 10, observationDomain: 0, records: 176_004_910, samplingRates: [1024] })
      : {
          exporter: '203.0.113.4',
          version: 10,
          observationDomain: 0,
          records: 176_004_910,
          samplingRates: [1024],
          sequenceGaps: null,
          lost: null,
          lostUnit: 'records',
          malformed: null,
          missingTemplateSets: null,
          samplesLost: null,
          sampleDrops: null,
        },
    healthy({ exporter: '2001:db8::1', version: 10, observationDomain: 256, records: 64_221_530, samplingRates: [1000] }),
  ];
  const flowsTotal = exporters.reduce((s, e) => s + e.records, 0);

  return {
    day,
    generatedAt: `${nextDay(day, 1)}T02:05:17.000Z`,
    previousDay: withPrevious ? nextDay(day, -1) : null,
    lines: { active, activePrevious, withAnyDetection: 231_402 },
    classes,
    hitlist: {
      day,
      detectableClasses: classes.length,
      byLevel,
      notDetectable: NOT_DETECTABLE.map((n) => ({ ...n })),
      dedicatedAddresses: 2_391,
      entries: 4_105,
      churn: withPrevious ? { added: 37, removed: 29 } : null,
    },
    quality: {
      exporters,
      flowsTotal,
      flowsMatched: 11_873_402,
      undecodableBatches: 0,
      unknownSamplingFlows: clean ? 0 : 31_448_207,
    },
  };
}
