// The device-files area's settings (MYNTRIX_UPLOAD_*; docs/DEVICE-FILES.md).

import { join } from 'node:path'
import {
  EXTENSIONS_ENV,
  type ExtensionPolicy,
  parseExtensionPolicy,
} from '../modules/device-files/extensions.js'
import { type Env, int, str } from './env.js'

export interface DeviceFilesSettings {
  /** Where stored files live, under the private data directory. */
  dir: string
  /** MYNTRIX_UPLOAD_MAX_MB, in megabytes as set (the 413 message names it so). */
  uploadMaxMb: number
  /** An upload that sends nothing for this long is ended (408) and its partial file removed. */
  uploadIdleTimeoutMs: number
  /** Extensions each protocol accepts (MYNTRIX_UPLOAD_EXTENSIONS over the defaults). */
  extensions: ExtensionPolicy
  /**
   * MYNTRIX_TRANSFER_CHECKPOINT_LINES and _MS: a G-code transfer's checkpoint
   * is written every this many lines, no sooner than this long after the last.
   */
  checkpoint: { everyLines: number; minIntervalMs: number }
}

export function deviceFilesSettings(
  env: Env,
  dataDir: string,
  /** The server-wide request body idle limit (http/input.ts), which uploads share. */
  uploadIdleTimeoutMs: number,
): DeviceFilesSettings {
  return {
    dir: join(dataDir, 'device-files'),
    uploadMaxMb: int(env, 'MYNTRIX_UPLOAD_MAX_MB', 50, 1, 10_000),
    uploadIdleTimeoutMs,
    extensions: parseExtensionPolicy(str(env, EXTENSIONS_ENV)),
    checkpoint: {
      everyLines: int(env, 'MYNTRIX_TRANSFER_CHECKPOINT_LINES', 1, 1, 100_000),
      minIntervalMs: int(env, 'MYNTRIX_TRANSFER_CHECKPOINT_MS', 20, 0, 60_000),
    },
  }
}
