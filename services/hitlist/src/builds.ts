import { resolve } from 'node:path';
import type { HaystackConfig } from '@haystack/common';
import { BuildFilesError, MissingDayError, type HitlistBuilds } from '@haystack/hitlist-contract';
import { loadRules, SHIPPED_RULES_DIR } from '@haystack/rules';
import { dictionaryCoverage } from './coverage.js';
import { dayDir, readBuiltDay } from './files.js';
import { HitlistHistory } from './history.js';

/**
 * The builder's side of what the console shows and records, for the composition root to pass
 * to it: the coverage of the dictionary the detector uses (detector.rulesDir, else the shipped
 * rules/), and recording a day built by `haystack hitlist build` in the history.
 */
export function hitlistBuilds(config: HaystackConfig): HitlistBuilds {
  return {
    coverage: () => dictionaryCoverage(loadRules(resolve(config.detector.rulesDir ?? SHIPPED_RULES_DIR))),
    async record(store, day) {
      const dir = dayDir(config.stateDir, day);
      // Read and checked whole before the day's history is touched: unreadable files never replace a recorded build.
      let build: Awaited<ReturnType<typeof readBuiltDay>>;
      try {
        build = await readBuiltDay(dir);
      } catch (e) {
        if (e instanceof MissingDayError) throw e;
        throw new BuildFilesError(`${dir}: ${(e as Error).message}`, { cause: e });
      }
      if (build.hitlist.day !== day) throw new BuildFilesError(`the hitlist files in ${dir} are of ${build.hitlist.day}, not ${day}`);
      const n = await (await HitlistHistory.attach(store)).record(build);
      return { builtAt: build.hitlist.builtAt, ...n };
    },
  };
}
