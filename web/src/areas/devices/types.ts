// Device shapes not named in api/types.ts, taken from the generated schema
// like the rest: the console never types an API object by hand.

import type { paths } from '../../api/schema'

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never

export type CreateDevice = Json<paths['/api/myntrix/devices']['post']['requestBody']>
export type UpdateDevice = Json<paths['/api/myntrix/devices/{id}']['put']['requestBody']>
export type CommandResult = Json<paths['/api/myntrix/devices/{id}/command']['post']['responses'][200]>
export type TelemetrySample = Json<
  paths['/api/myntrix/devices/{id}/telemetry']['get']['responses'][200]
>[number]
export type DeviceFile = Json<paths['/api/myntrix/devices/{id}/files']['get']['responses'][200]>[number]
export type UploadResult = Json<paths['/api/myntrix/devices/{id}/upload']['post']['responses'][202]>
