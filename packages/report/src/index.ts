// The daily detection report: its data (queries over the detector's tables) and renderers.
export * from './data.js';
export * from './query.js';
export * from './render.js';
export * from './fixture.js';
export { columnChart, lineChart, lineSparkline, type Series } from './charts.js';
export { BACKENDS_CSV_COLUMNS, backendsHtml, backendsText, providerLabel, renderBackendsCsv } from './backends.js';
