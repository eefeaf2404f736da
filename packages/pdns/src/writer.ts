import { createWriteStream, type WriteStream } from 'node:fs';
import { CONTROL, DNSTAP_CONTENT_TYPE, controlFrame, dataFrame } from './fstrm.js';
import { encodeDnstapResponse, MESSAGE_TYPE } from './dnstap.js';
import { encodeDnsResponse, type AnswerSpec } from './dns-encode.js';

/**
 * Writes a dnstap file as fstrm_capture does (START with the dnstap content type, data frames,
 * STOP): the simulator's DNS world as a resolver feed, and test inputs.
 */
export class DnstapFileWriter {
  private readonly out: WriteStream;
  messages = 0;

  private constructor(path: string) {
    this.out = createWriteStream(path);
    this.out.write(controlFrame(CONTROL.START, DNSTAP_CONTENT_TYPE));
  }

  static create(path: string): DnstapFileWriter {
    return new DnstapFileWriter(path);
  }

  /** One client response: the question and its answer chain. */
  async response(timeMs: number, qname: string, qtype: 'A' | 'AAAA', answers: AnswerSpec[], type: number = MESSAGE_TYPE.CLIENT_RESPONSE): Promise<void> {
    const frame = dataFrame(encodeDnstapResponse(type, timeMs, encodeDnsResponse(qname, qtype, answers)));
    this.messages++;
    if (!this.out.write(frame)) await new Promise<void>((r) => this.out.once('drain', () => r()));
  }

  async close(): Promise<void> {
    this.out.write(controlFrame(CONTROL.STOP));
    await new Promise<void>((resolve, reject) => this.out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  }
}
