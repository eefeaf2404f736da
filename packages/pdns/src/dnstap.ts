import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';

/**
 * dnstap messages (dnstap.info), decoded with protobufjs from the published schema, vendored
 * as proto/dnstap.proto. Only what passive DNS needs is read: the message type, the response
 * time and the response bytes. The client's address and port are in the message; they are
 * never read into anything that is kept.
 */
const root = protobuf.parse(readFileSync(new URL('../proto/dnstap.proto', import.meta.url), 'utf8')).root;
const DnstapType = root.lookupType('dnstap.Dnstap');

/** dnstap Message.Type values that carry a response to a resolution. */
export const MESSAGE_TYPE = {
  AUTH_RESPONSE: 2,
  RESOLVER_RESPONSE: 4,
  CLIENT_RESPONSE: 6,
  FORWARDER_RESPONSE: 8,
  STUB_RESPONSE: 10,
  TOOL_RESPONSE: 12,
} as const;

/** Responses a resolver's passive DNS is built from (what it learned, what it answered). */
export const RESPONSE_TYPES: ReadonlySet<number> = new Set([MESSAGE_TYPE.RESOLVER_RESPONSE, MESSAGE_TYPE.CLIENT_RESPONSE, MESSAGE_TYPE.FORWARDER_RESPONSE]);

interface DecodedMessage {
  type: number;
  queryTimeSec?: number | { toNumber(): number };
  queryTimeNsec?: number;
  responseTimeSec?: number | { toNumber(): number };
  responseTimeNsec?: number;
  responseMessage?: Uint8Array;
}

export interface DnstapResponse {
  type: number;
  /** Response time (else query time), Unix ms; NaN when the message has neither. */
  timeMs: number;
  response: Uint8Array | null;
}

const toNum = (v: number | { toNumber(): number } | undefined): number => (v === undefined ? NaN : typeof v === 'number' ? v : v.toNumber());

/** Decode one dnstap frame. Throws on bytes that are not a Dnstap message (the caller counts them). */
export function decodeDnstap(frame: Uint8Array): DnstapResponse {
  const d = DnstapType.decode(frame) as unknown as { type: number; message?: DecodedMessage };
  const m = d.message;
  if (!m) return { type: 0, timeMs: NaN, response: null };
  let sec = toNum(m.responseTimeSec);
  let nsec = m.responseTimeNsec ?? 0;
  if (sec !== sec) {
    sec = toNum(m.queryTimeSec);
    nsec = m.queryTimeNsec ?? 0;
  }
  return { type: m.type, timeMs: sec * 1000 + Math.floor(nsec / 1e6), response: m.responseMessage ?? null };
}

/** Encode a dnstap response message (the simulator's resolver feed, tests). */
export function encodeDnstapResponse(type: number, timeMs: number, response: Uint8Array, identity = 'haystack', queryAddress?: Uint8Array): Uint8Array {
  const sec = Math.floor(timeMs / 1000);
  const msg = DnstapType.create({
    identity: Buffer.from(identity),
    type: 1,
    message: {
      type,
      socketFamily: 1,
      socketProtocol: 1,
      responseTimeSec: sec,
      responseTimeNsec: Math.round((timeMs - sec * 1000) * 1e6),
      responseMessage: response,
      ...(queryAddress ? { queryAddress, queryPort: 53000 } : {}),
    },
  });
  return DnstapType.encode(msg).finish();
}
