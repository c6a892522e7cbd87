// For a route whose service checks the body itself against the same TypeBox
// schema plus rules a schema cannot state (a cron expression, a payload that
// depends on its action), so that one 400 lists every problem in the area's
// words: the route's schema documents and types the body (OpenAPI), and the
// route does not check it a second time. Ajv at the route would also change
// the body on the way (removeAdditional strips fields while it tries each
// branch of a union), so the service would not see what was sent, and a
// union's failure would be told once per branch.
// The body must still be an object; other parts are checked as on every route.

import type { FastifySchemaCompiler } from 'fastify'
import { ValidationError } from '../errors.js'
import { routeValidator } from './route-validator.js'

export const bodyCheckedByService: FastifySchemaCompiler<unknown> = (route) => {
  if (route.httpPart === 'body') {
    return (data: unknown) =>
      typeof data === 'object' && data !== null && !Array.isArray(data)
        ? true
        : {
            error: new ValidationError('the body must be a JSON object', [
              { path: '(body)', message: 'must be object' },
            ]),
          }
  }
  return routeValidator(route)
}
