/**
 * The JSON API's response types, one per route: the source of the OpenAPI response schemas
 * (scripts/gen-api-schemas.mjs writes api-schemas.json from this file; `npm run lint` checks it
 * is current, and api-schemas.test.ts validates real answers against it).
 */
import type { DictionaryCoverage } from '@haystack/hitlist-contract';
import type { ReportData } from '@haystack/report';
import type { BackendFigures } from '@haystack/store';
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

/** Where a day's IoT traffic goes, and per day over the trend range (the console's backends page). */
export interface BackendsResponse {
  day: string;
  /** Absent when the hitlist that served the day was built without backend data. */
  figures: BackendFigures | null;
  trend: {
    days: string[];
    /** Bytes per provider per day ('unknown': in none of the listed providers); null: no traffic stored that day. */
    providers: { key: string; estBytes: (number | null)[] }[];
    /** Share of the day's bytes leaving backends.homeCountry; null without one or without traffic. */
    outsideCountry: (number | null)[];
  };
}

/** What an outage of one provider (in one country) would cut off. */
export interface WhatIfResponse {
  day: string;
  provider: string;
  country: string | null;
  /** Detected lines with at least one class whose backends all lie there. */
  lines: number;
  classes: string[];
}

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
