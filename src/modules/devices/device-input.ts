// The checks of a device's create and update fields beyond their route
// schema: a name that is blank once trimmed, the configuration's rules, and
// the connection string, parsed here once (with the configuration's baud as
// the fallback for a bare serial path) and handed on as a target.

import { collectErrors, type FieldError } from '../../errors.js'
import { refuseErrors } from '../../validation.js'
import { configurationErrors, configurationRuleErrors, type DeviceConfiguration } from './configuration.js'
import { type ConnectionTarget, parseConnectionString } from './connection-string.js'

export interface DeviceInput {
  name?: string
  type?: string
  connectionString?: string
  configuration?: Record<string, unknown>
  /** Absent: on create the default for the scheme (service.ts); on update, unchanged. */
  nodeAffinity?: string | null
}

/** Checked fields; `target` is the parsed connection string when one was given. */
export interface CheckedInput extends DeviceInput {
  configuration: DeviceConfiguration
  target?: ConnectionTarget
}

/**
 * The rules the route schema does not express (between configuration keys,
 * the connection string), for a body the schema refused: so one answer lists
 * both. The schema's own errors are the route's; these come on top.
 */
export function deviceRuleErrors(body: {
  connectionString?: unknown
  configuration?: unknown
}): FieldError[] {
  const errors = configurationRuleErrors(body.configuration, [])
  if (body.connectionString !== undefined) {
    collectErrors(errors, 'connectionString', () =>
      parseConnectionString(body.connectionString, body.configuration as { baudRate?: unknown }),
    )
  }
  return errors
}

/** Validates create/update fields; the connection string is checked against the configuration's baud. */
export function checkDeviceInput(input: DeviceInput, isCreate: boolean): CheckedInput {
  const errors: FieldError[] = []
  const name = input.name?.trim()
  // Messages say what is wrong with the field at `path`, as the schema's do (the detail is `path message`).
  if (isCreate && !name) errors.push({ path: 'name', message: 'is required' })
  if (input.name !== undefined && !name) errors.push({ path: 'name', message: 'must not be empty' })
  if (isCreate && input.connectionString === undefined) {
    errors.push({ path: 'connectionString', message: 'is required' })
  }
  errors.push(...configurationErrors(input.configuration))
  // Checked also when the configuration is not: both problems are reported.
  const target =
    input.connectionString === undefined
      ? undefined
      : collectErrors(errors, 'connectionString', () =>
          parseConnectionString(input.connectionString, input.configuration),
        )
  refuseErrors(errors)
  return {
    ...input,
    name,
    type: input.type?.trim() || undefined,
    configuration: (input.configuration ?? {}) as DeviceConfiguration,
    target,
  }
}
