/**
 * The JSON API's response types, one per route: the source of the OpenAPI response schemas
 * (scripts/gen-api-schemas.mjs writes api-schemas.json from this file; `npm run lint` checks it
 * is current, and api-schemas.test.ts validates real answers against it).
 */
import type { DictionaryCoverage } from '@haystack/hitlist-contract';
import type { ReportData } from '@haystack/report';
import type { LiveQuality } from './live.js';
import type { AuditEntry, HitlistBrowse, LineDetection, TimeToDetection, Trends } from './queries.js';

export interface HealthResponse {
  ok: boolean;
  /** Where the store is: embedded chdb or a ClickHouse server. */
  storage: string;
  deployment: 'isp' | 'ixp';
  /** Whether the per-line lookup is enabled (console.lookup.enabled). */
  lookup: boolean;
}

export type ReportResponse = ReportData;
export type TrendsResponse = Trends;
export type TimeToDetectionResponse = TimeToDetection;
export type HitlistResponse = HitlistBrowse;
export type RulesResponse = DictionaryCoverage;
export type QualityResponse = LiveQuality;

export interface RecordResponse {
  day: string;
  builtAt: string;
  /** Entry rows recorded (one per class an entry serves). */
  entries: number;
  classes: number;
  domains: number;
}

export interface LookupResponse {
  query: string;
  from: string;
  to: string;
  /** Lines the query resolved to. */
  lines: number;
  /** Whether line ids are raw addresses (detector.rawLineIds) rather than pseudonyms. */
  raw: boolean;
  results: LineDetection[];
}

export type AuditResponse = (AuditEntry & { client: string })[];

/** Every error: the status's name and one line saying what to change. */
export interface ErrorResponse {
  error: string;
  message: string;
}
