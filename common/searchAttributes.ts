// Typed search attributes that let the Temporal UI list and filter deployments without opening
// them. Registered on the dev server by scripts/dev-stack.ts (see TEMPORAL_SEARCH_ATTRIBUTE_FLAGS).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_MODEL = defineSearchAttributeKey('EdgeshipModel', SearchAttributeType.KEYWORD);
export const SA_SHA = defineSearchAttributeKey('EdgeshipSha', SearchAttributeType.KEYWORD);
export const SA_STAGE = defineSearchAttributeKey('EdgeshipStage', SearchAttributeType.KEYWORD);
export const SA_STATUS = defineSearchAttributeKey('EdgeshipStatus', SearchAttributeType.KEYWORD);
export const SA_DEVICES = defineSearchAttributeKey('EdgeshipDevices', SearchAttributeType.KEYWORD_LIST);

/** `--search-attribute` values for `temporal server start-dev`. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS: ReadonlyArray<[string, string]> = [
  ['EdgeshipModel', 'Keyword'],
  ['EdgeshipSha', 'Keyword'],
  ['EdgeshipStage', 'Keyword'],
  ['EdgeshipStatus', 'Keyword'],
  ['EdgeshipDevices', 'KeywordList'],
];
