import type { Area, AreaContext } from '../area.js'
import { visualizationRoutes } from './routes.js'
import { VisualizationService, type VisualizationSources } from './service.js'

export interface VisualizationArea extends Area {
  service: VisualizationService
}

export function createVisualizationArea(ctx: AreaContext, sources: VisualizationSources): VisualizationArea {
  const service = new VisualizationService(ctx.db, ctx.bus, sources, ctx.logger)
  return {
    name: 'visualization',
    service,
    routes: (app) => visualizationRoutes(app, service),
    start: () => service.start(),
    stop: () => service.stop(),
  }
}
