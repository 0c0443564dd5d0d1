/** Camera ids are config keys that appear in URLs and on the wire: 1-64 of [A-Za-z0-9._-]. */
export const CAMERA_ID = '[A-Za-z0-9._-]{1,64}';
export const CAMERA_ID_PATTERN = new RegExp(`^${CAMERA_ID}$`);
