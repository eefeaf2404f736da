import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { dictionaryCoverage, renderCoverage } from '@haystack/hitlist';
import { learnFromCaptures, loadRules, proposeRules, readPartyList, SHIPPED_RULES_DIR, type DeviceLabel } from '@haystack/rules';
import { captureFile, collectMany, inputDir, inputFile } from '../args.js';
import { action, UserError } from '../runtime.js';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function parseDevice(text: string, where: string): DeviceLabel {
  const [mac, label] = text.split(/[=,]/).map((x) => x.trim());
  if (!mac || !MAC.test(mac) || !label)
    throw new UserError(`${where}: expected MAC=label (e.g. 50:c7:bf:00:fc:a3=tplink-plug), got ${JSON.stringify(text)}`, 2);
  return { mac: mac.toLowerCase(), label };
}

export function registerRulesCommands(program: Command): void {
  const rules = program.command('rules').description('the IoT dictionary (rules/): what it covers, and learning signatures from labelled device captures');
  rules
    .command('show')
    .description(
      'list the makers and platforms the dictionary covers: the finest level each can be detected at, its products, families (zones, regional twins, numbered shards), single names, regions and sources, with the dictionary date',
    )
    .option('--rules <dir>', 'IoT dictionary directory (default: the rules/ shipped with Haystack)')
    .option('--maker <id>', 'only this maker or platform (class id, e.g. tplink)')
    .option('-v, --verbose', 'also list every family, product and source')
    .option('--json', 'print the coverage as JSON')
    .action(
      action(async (opts: { rules?: string; maker?: string; verbose?: boolean; json?: boolean }) => {
        if (opts.rules) inputDir(opts.rules, '--rules');
        const dict = loadRules(opts.rules ? resolve(opts.rules) : SHIPPED_RULES_DIR);
        const cov = dictionaryCoverage(dict);
        if (opts.maker) {
          const one = cov.entries.filter((e) => e.id === opts.maker);
          if (one.length === 0)
            throw new UserError(`--maker: no maker or platform "${opts.maker}" in the dictionary (see \`haystack rules show\` for the ids)`, 2);
          cov.entries = one;
        }
        if (opts.json) process.stdout.write(`${JSON.stringify(cov, null, 1)}\n`);
        else process.stdout.write(renderCoverage(cov, { verbose: opts.verbose || opts.maker !== undefined }));
      }),
    );
  rules
    .command('learn')
    .description(
      'report every endpoint labelled devices contacted in captures (names from their DNS answers, TLS server names, HTTP Host; ports and transports; packets per hour), classify each name against rules/ and a party list, and propose rules/ entries as a YAML diff to review',
    )
    .argument('<captures...>', 'pcap/pcapng captures of the devices (compressed too)')
    .option('--device <mac=label...>', 'a device MAC and the class its domains are for (repeatable)', collectMany, [])
    .option('--devices <file>', 'a file of MAC,label lines')
    .option('--party-list <file>', 'first/support/third party list (iot-endpoints all_party_mapping.csv format)')
    .option('--source <id>', 'source id the proposals cite (add it to rules/sources.yaml)', 'lab-captures')
    .option('--rules <dir>', 'IoT dictionary to compare with (default: the rules/ shipped with Haystack)')
    .option('--json', 'print the per-device reports as JSON instead of the YAML diff')
    .action(
      action(async (captures: string[], opts: { device: string[]; devices?: string; partyList?: string; source: string; rules?: string; json?: boolean }) => {
        for (const c of captures) captureFile(c);
        const labels = opts.device.map((d) => parseDevice(d, '--device'));
        if (opts.devices) {
          inputFile(opts.devices, '--devices');
          for (const [i, l] of readFileSync(opts.devices, 'utf8').split('\n').entries())
            if (l.trim() && !l.startsWith('#')) labels.push(parseDevice(l, `${opts.devices}:${i + 1}`));
        }
        if (labels.length === 0) throw new UserError('name the devices: --device MAC=label or --devices FILE', 2);
        if (opts.partyList) inputFile(opts.partyList, '--party-list');
        const dict = loadRules(opts.rules ? resolve(opts.rules) : SHIPPED_RULES_DIR);
        const reports = await learnFromCaptures(captures, labels, dict, opts.partyList ? readPartyList(opts.partyList) : null);
        for (const l of labels)
          if (!reports.some((r) => r.mac === l.mac)) process.stderr.write(`warning: no frame from or to ${l.mac} (${l.label}) in the captures\n`);
        if (opts.json) process.stdout.write(`${JSON.stringify(reports, null, 1)}\n`);
        else process.stdout.write(proposeRules(reports, opts.source));
      }),
    );
}
