import { continents, countries, type TCountryCode } from 'countries-list';

/** ISO 3166-1 alpha-2 country → its continent code (AF, AN, AS, EU, NA, OC, SA), or null when unknown. */
export function continentOf(country: string | null): string | null {
  if (!country) return null;
  return countries[country.toUpperCase() as TCountryCode]?.continent ?? null;
}

export function countryName(country: string): string {
  return countries[country.toUpperCase() as TCountryCode]?.name ?? country;
}

export function continentName(code: string): string {
  return (continents as Record<string, string>)[code] ?? code;
}

/** Is this a country code the dataset knows (a configured home country is checked against it)? */
export function isCountryCode(code: string): boolean {
  return code.toUpperCase() in countries;
}
