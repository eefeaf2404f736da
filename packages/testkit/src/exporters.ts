// Harness for tests that need real exporter output: synthetic traffic → softflowd / pmacctd →
// capture pcap → tshark as the reference decoder. See ../EXPORTERS.md for what each exporter sends.
export * from './exporters-traffic.js';
export * from './exporters-run.js';
export * from './tshark.js';
