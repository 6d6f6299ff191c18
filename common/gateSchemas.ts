// The zod schemas of the gates, built from the one table (common/gates.ts): the request schema
// (with defaults) and the GPU activities' input checks (without) accept the same values.
import { z } from 'zod';
import { GATES, gateNamesAt, type GateDomain, type GateName, type GatePlace } from './gates';

function domainSchema(domain: GateDomain): z.ZodNumber {
  switch (domain) {
    case 'cosine':
      return z.number().gt(0).max(1);
    case 'positive':
      return z.number().positive();
    case 'nonnegative':
      return z.number().nonnegative();
    case 'count':
      return z.number().int().min(1);
    case 'drift':
      return z.number().gt(0).max(2);
  }
}

/** One gate's schema, without a default (an activity input may leave any gate out). */
export function gateSchema(name: GateName): z.ZodNumber {
  return domainSchema(GATES[name].domain).describe(GATES[name].what);
}

type RequestGateShape = { [N in GateName]: (typeof GATES)[N]['default'] extends number ? z.ZodDefault<z.ZodNumber> : z.ZodOptional<z.ZodNumber> };

/** The request's `gates` object: every gate of the table, each with its default (or optional). */
export function requestGatesShape(): RequestGateShape {
  const shape: Record<string, z.ZodType> = {};
  for (const name of Object.keys(GATES) as GateName[]) {
    const d = GATES[name].default as number | undefined;
    shape[name] = d === undefined ? gateSchema(name).optional() : gateSchema(name).default(d);
  }
  return shape as RequestGateShape;
}

/** An activity's `gates` input for a place: the place's gates, each optional. */
export function placeGatesSchema(place: GatePlace) {
  const shape: Record<string, z.ZodOptional<z.ZodNumber>> = {};
  for (const name of gateNamesAt(place)) shape[name] = gateSchema(name).optional();
  return z.object(shape);
}
