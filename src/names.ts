// One rule for every name a person gives a thing (agents, devices, tasks, API
// keys, users): no control characters and no bidirectional overrides or
// isolates. A NUL cuts a name short in C tools and logs; C0/C1 controls and DEL
// move the cursor or recolour a terminal; U+202A-U+202E and U+2066-U+2069
// reorder the text around them, so "\u202Eexe.txt" shows as "txt.exe" in every
// list that prints it. The invisible format characters are refused too: zero
// width U+200B-U+200D and the marks U+200E, U+200F, U+061C make `backup` and
// `backup\u200B` two names that print the same; U+2028/U+2029 break a line in
// logs and terminals; U+FEFF and the tag characters U+E0000-U+E007F show as
// nothing. File names are cleaned by their own rule
// (src/modules/device-files/filename.ts) because an upload keeps its file.

import { Type } from '@sinclair/typebox'

// Written with the `u` flag in mind (the tag characters are beyond U+FFFF);
// ajv compiles schema patterns with it too.
const UNSAFE =
  '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff\\u{e0000}-\\u{e007f}'
const UNSAFE_CHAR = new RegExp(`[${UNSAFE}]`, 'u')

/** The JSON Schema pattern of a safe name (the OpenAPI document shows it). */
export const NAME_PATTERN = `^[^${UNSAFE}]*$`

export const NAME_RULE =
  'must not contain control characters (U+0000-U+001F, U+007F-U+009F), bidirectional ' +
  'override/isolate characters (U+202A-U+202E, U+2066-U+2069) or invisible format characters ' +
  '(U+061C, U+200B-U+200F, U+2028, U+2029, U+FEFF, U+E0000-U+E007F)'

/** What is wrong with a name, naming the character and where it is; undefined when it is safe. */
export function nameProblem(name: string): string | undefined {
  const m = UNSAFE_CHAR.exec(name)
  if (!m) return undefined
  const code = (m[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')
  return `${NAME_RULE}; found U+${code} at character ${m.index + 1}`
}

/** The schema of a name field; every create and update route uses this one. */
export function NameString(options: { minLength?: number; maxLength: number; description?: string }) {
  return Type.String({ minLength: 1, ...options, pattern: NAME_PATTERN })
}
