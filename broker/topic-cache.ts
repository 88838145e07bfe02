// Topic parsing on the per-message path. A device publishes on the same few topics all day, so a
// bounded memo of parseTopic turns three regex-checked parses per message into map look-ups.
import { type ParsedTopic, parseTopic } from '../protocol/topics';

const MAX_ENTRIES = 50_000;
const memo = new Map<string, ParsedTopic | null>();

export function parseTopicCached(topic: string): ParsedTopic | null {
  let parsed = memo.get(topic);
  if (parsed !== undefined) return parsed;
  parsed = parseTopic(topic);
  // Dropping everything when full is crude but bounded, and refills in one pass of live topics.
  if (memo.size >= MAX_ENTRIES) memo.clear();
  memo.set(topic, parsed);
  return parsed;
}
