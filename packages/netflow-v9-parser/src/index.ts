export { decodeV5, V5_HEADER, V5_RECORD } from './v5.js';
export { decodeV9, V9_HEADER } from './v9.js';
