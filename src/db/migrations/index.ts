// The ordered list of migrations. Each area appends its own entries, named
// with its number range (see 0001_foundation.ts).

import { foundation } from './0001_foundation.js'
import { jobInstances } from './0301_job_instances.js'
import { schedulerInstances } from './0401_scheduler_instances.js'
import { taskRunActiveIndexes } from './0402_task_run_active_indexes.js'
import { taskRunJobIndex } from './0403_task_run_job_index.js'
import { deviceFiles } from './0501_device_files.js'
import { sceneLayout } from './0601_scene_layout.js'
import { taskRunProcess } from './0701_task_run_process.js'
import { authSessions } from './0702_auth_sessions.js'
import { auditLogIndexes } from './0703_audit_log_indexes.js'
import { apiKeyTokenVersion } from './0704_api_key_token_version.js'
import { nodes } from './0801_nodes.js'
import { notifications } from './0860_notifications.js'
import { cluster } from './0900_cluster.js'
import { jobCheckpoints } from './0920_job_checkpoints.js'
import { alerts } from './0940_alerts.js'
import { deviceAffinity } from './0960_device_affinity.js'
import { deviceFileBlobs } from './0970_device_file_blobs.js'
import { deviceQueues } from './0980_device_queues.js'
import { jobStartedBy } from './0990_job_started_by.js'
import { alertNodesAndMounts } from './1000_alert_nodes_and_mounts.js'
import type { MyntrixMigration } from './types.js'

export const migrations: Record<string, MyntrixMigration> = {
  '0001_foundation': foundation,
  '0301_job_instances': jobInstances,
  '0501_device_files': deviceFiles,
  '0601_scene_layout': sceneLayout,
  '0401_scheduler_instances': schedulerInstances,
  '0402_task_run_active_indexes': taskRunActiveIndexes,
  '0403_task_run_job_index': taskRunJobIndex,
  '0701_task_run_process': taskRunProcess,
  '0702_auth_sessions': authSessions,
  '0703_audit_log_indexes': auditLogIndexes,
  '0704_api_key_token_version': apiKeyTokenVersion,
  '0801_nodes': nodes,
  '0860_notifications': notifications,
  '0900_cluster': cluster,
  '0920_job_checkpoints': jobCheckpoints,
  '0940_alerts': alerts,
  '0960_device_affinity': deviceAffinity,
  '0980_device_queues': deviceQueues,
  '1000_alert_nodes_and_mounts': alertNodesAndMounts,
  '0970_device_file_blobs': deviceFileBlobs,
  '0990_job_started_by': jobStartedBy,
}
