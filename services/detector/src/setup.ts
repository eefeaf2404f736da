import { existsSync } from 'node:fs';
import { ConfigError, type HaystackConfig, type Logger } from '@haystack/common';
import { Attributor, RouteTable, loadMemberExport } from '@haystack/ixp';
import { SHIPPED_RULES_DIR } from '@haystack/rules';
import { ClassHierarchy } from './hierarchy.js';

/** A refused detector configuration: one clear line naming the key, exit 2, nothing started. */
export class DetectorConfigError extends Error {
  readonly userFacing = true;
  readonly exitCode = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'DetectorConfigError';
  }
}

/** IXP deployment: who each host sits behind, from the IX-F member export and the optional route table. */
export function ixpAttributor(cfg: HaystackConfig): Attributor | null {
  if (cfg.deployment !== 'ixp') return null;
  if (!cfg.ixp.memberExport) throw new DetectorConfigError('deployment "ixp" needs ixp.memberExport: the IXP\'s IX-F member export (JSON)');
  // Every problem with the two files names its configuration key (exit 2, nothing started).
  const named = <T>(key: string, f: () => T): T => {
    try {
      return f();
    } catch (e) {
      throw new DetectorConfigError(`${key}: ${(e as Error).message}`, { cause: e });
    }
  };
  const members = named('ixp.memberExport', () => loadMemberExport(cfg.ixp.memberExport!));
  const routes = cfg.ixp.routeTable ? named('ixp.routeTable', () => RouteTable.load(cfg.ixp.routeTable!)) : null;
  return new Attributor(members, routes);
}

/** The class hierarchy (product → manufacturer → platform) from detector.rulesDir, else the shipped dictionary. */
export function classHierarchy(cfg: HaystackConfig, log: Logger): ClassHierarchy | null {
  const d = cfg.detector;
  // A dictionary the operator names must be there and valid (as `hitlist build` refuses
  // one): running with no classes would store nothing and say little.
  if (d.rulesDir !== null) {
    if (!existsSync(d.rulesDir))
      throw new ConfigError(`detector.rulesDir ${d.rulesDir}: no such directory (the IoT dictionary the detector names classes from)`);
    return ClassHierarchy.fromRules(d.rulesDir);
  }
  const rulesDir = SHIPPED_RULES_DIR;
  try {
    const h = ClassHierarchy.fromRules(rulesDir);
    if (!h)
      log.warn(
        { rulesDir },
        'no IoT dictionary shipped beside the code: product detections will not name their manufacturer and platforms unless the hitlist carries parents',
      );
    return h;
  } catch (e) {
    log.warn(
      { err: e, rulesDir },
      'cannot read the shipped IoT dictionary for the class hierarchy: product detections will not name their manufacturer and platforms',
    );
    return null;
  }
}
