import type { BackendFigures, DayQuality, ExporterQuality } from '@haystack/store';
/**
 * The daily detection report's data: produced by the detector's ClickHouse queries
 * (report-query.ts), rendered by report-render.ts as a terminal table, JSON, CSV and a
 * self-contained HTML page. This interface is the contract between the two.
 */
import type { ClassKind } from '@haystack/hitlist-contract';
/** The detection level a class names (platform, manufacturer, product). */
export type Level = ClassKind;

export interface ReportClass {
  classId: string;
  name: string;
  level: Level;
  /** Coarser classes this one implies (a product implies its manufacturer and platform). */
  parents: string[];
  /** Subscriber lines detected hosting the class on the day (daily window). */
  detectedLines: number;
  /** Same on the previous day; null when there is no previous day in storage. */
  detectedLinesPrevious: number | null;
  /** detectedLines / active lines of the day (0..1). */
  shareOfActive: number;
  /** Lines detected within each UTC hour 0..23 (hourly window), 24 numbers. */
  hourly: number[];
}

/** One exporter's day (the store computes it once for every place that shows it). */
export type ReportExporter = ExporterQuality;

/** IXP deployment: one member network and the IoT hosts detected behind it. */
export interface ReportMember {
  asn: number;
  /** From the IX-F member export; '' for hosts that could not be attributed (asn 0). */
  name: string;
  /** Hosts (IPv4 /32, IPv6 /64) detected with any class on the day (daily window). */
  iotHosts: number;
  /** Hosts seen active behind the member on the day (the client end of any sampled flow, or a detected host). */
  activeHosts: number;
  /** iotHosts / activeHosts (0..1; 0 when no active host). */
  shareOfActive: number;
  /** Traffic of the member's hosts to IoT backends, renormalised (sampled bytes × rate). */
  estBytesToIot: number;
  classes: { classId: string; level: Level; hosts: number }[];
  /** IoT hosts detected within each UTC hour 0..23 (hourly window), 24 numbers. */
  hourly: number[];
}

export interface ReportData {
  day: string; // YYYY-MM-DD (UTC)
  generatedAt: string; // ISO time
  previousDay: string | null;
  lines: {
    /** Subscriber lines with at least one flow on the day. */
    active: number;
    activePrevious: number | null;
    /** Lines detected with at least one class. */
    withAnyDetection: number;
  };
  classes: ReportClass[];
  hitlist: {
    day: string | null;
    detectableClasses: number;
    byLevel: Record<Level, number>;
    notDetectable: { classId: string; name: string; reason: string }[];
    /** Distinct service addresses in the hitlist. */
    dedicatedAddresses: number;
    /** (address, port, transport) entries. */
    entries: number;
    churn: { added: number; removed: number } | null;
  };
  /** IXP deployment only (absent for an ISP): members ranked by IoT hosts, and how hosts were attributed. */
  ixp?: {
    members: ReportMember[];
    /** Hosts attributed by router MAC, flow AS, route table; 'none' = unattributed. */
    attribution: { mac: number; as: number; prefix: number; none: number };
  };
  /** Per exporter and in total: @haystack/store's dayQuality, the same figures as the console's data-quality page. */
  quality: Omit<DayQuality, 'partialReplays'> & { partialReplays?: DayQuality['partialReplays'] };
  /**
   * Where the IoT traffic goes (backend providers, AS organisations, countries, parties, the
   * lines that depend on one provider): @haystack/store's backendFigures; absent when the
   * hitlist that served the day was built without backend data.
   */
  backends?: BackendFigures;
}
