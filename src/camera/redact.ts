/** Keeps camera credentials out of everything a viewer or a log line can see. */

// Up to the LAST '@' of the authority: ffmpeg does the same, so `user:p@ss@host` is a password.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^/\s]*)@/gi;

/** `rtsp://user:secret@host/x` -> `rtsp://user:***@host/x`, anywhere in `text`. */
export function redactCredentials(text: string): string {
  return text.replace(USERINFO, (_all, scheme: string, userinfo: string) => {
    const user = userinfo.split(':', 1)[0] ?? '';
    return user === '' ? `${scheme}***@` : `${scheme}${user}:***@`;
  });
}

/**
 * Turns an ffmpeg error line into a short reason fit for viewers: no URL (it may name hosts or
 * credentials), no `[tcp @ 0x...]` prefix, at most 120 characters.
 */
export function viewerReason(line: string): string {
  const text = line
    .replace(/\[[^\]]*@ 0x[0-9a-f]+\]\s*/gi, '')
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S*?:\s/gi, '')
    .replace(/[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>')
    .trim();
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
