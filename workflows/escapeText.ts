// Free text (a rejection reason, a comment, an id typed by a person) shown in the Temporal UI's
// current details, which render Markdown and HTML: escaped so it shows as the text it is —
// a link is not clickable, `<b>` does not render — and kept on one line.
// HTML's own characters take Markdown's backslash escape too, not entities: the UI showed "&gt;"
// literally, while "\>" renders as ">" and can never open a tag.
const MARKDOWN_SPECIALS = /[\\`*_{}[\]()#+\-.!|~<>&]/g;

export function escapeText(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(MARKDOWN_SPECIALS, (c) => `\\${c}`);
}

/** Text shortened for a one-line view (the report keeps it whole): the UI's details and the CLI's tables. */
export function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
