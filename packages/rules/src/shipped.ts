import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The dictionary shipped with Haystack (`rules/` at the repository root, also in the image):
 * found from this module's own location, so commands work from any working directory.
 */
export const SHIPPED_RULES_DIR = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..'), 'rules');
