// Where IoT backends live (issue: where the IoT data goes): offline datasets for the hitlist's
// addresses (origin AS and organisation, country, continent, cloud provider) and the party of
// each IoT domain for its maker. Used at hitlist build time, never per flow.
export * from './datasets.js';
export * from './enrich.js';
export * from './geo.js';
export * from './parties.js';
export * from './providers.js';
export * from './ranges.js';
export * from './special.js';
