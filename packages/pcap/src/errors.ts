/**
 * Raised when a capture file is not a pcap/pcapng file, or its framing is corrupt in a way
 * that makes the rest of the file unreadable (pcap has no resynchronisation marker, so a bad
 * record length ends the file). Frames read before the fault have already been delivered.
 */
export class PcapFormatError extends Error {
  /** Byte offset in the file (from its start) of the record or block at fault, when known. */
  readonly offset: number | undefined;
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte offset ${offset})`);
    this.name = 'PcapFormatError';
    this.offset = offset;
  }
}
