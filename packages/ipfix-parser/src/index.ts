export { decodeIpfix, IPFIX_HEADER } from './ipfix.js';
