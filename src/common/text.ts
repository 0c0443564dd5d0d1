/** Client-supplied text, shortened before it is echoed back or logged: `max` characters, then "...". */
export function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}
