// The real Docker engine for the container tests: whether it answers (a reason to
// skip locally; under CI=true test/ci-guard.test.ts makes its absence a failure), and
// the test image, built once by `docker import` of local files since no registry is
// reachable: a root holding the static busybox and links to the applets the tests use.

import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { copyFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dockerClient, engineStatus } from '../../src/modules/agents/runtimes/docker-engine.js'

export const DOCKER_HOST = process.env.MYNTRIX_DOCKER_HOST ?? 'unix:///var/run/docker.sock'
export const TEST_IMAGE = 'myntrix-test-busybox:1'
/** Debian's busybox-static: one binary without shared libraries, so it runs in an empty root. */
const BUSYBOX = '/bin/busybox'
const APPLETS = ['sh', 'echo', 'sleep', 'cat', 'true', 'false', 'yes', 'head', 'dd', 'env', 'id', 'pwd', 'ls']

export const docker = dockerClient(DOCKER_HOST)

/** Why the Docker tests cannot run here, or null when they can. */
export async function whyNoDocker(): Promise<string | null> {
  const status = await engineStatus(docker, DOCKER_HOST)
  if (!status.reachable) return status.reason
  if (!existsSync(BUSYBOX))
    return `${BUSYBOX} is missing (apt-get install busybox-static) to build ${TEST_IMAGE}`
  return null
}

let building: Promise<string> | null = null

/** The test image's tag, imported on first use (idempotent across files and runs). */
export function testImage(): Promise<string> {
  building ??= buildTestImage()
  return building
}

async function buildTestImage(): Promise<string> {
  try {
    await docker.getImage(TEST_IMAGE).inspect()
    return TEST_IMAGE
  } catch {
    // Not there yet: import it.
  }
  const root = mkdtempSync(join(tmpdir(), 'myntrix-image-'))
  try {
    await mkdir(join(root, 'bin'))
    await mkdir(join(root, 'tmp'), { mode: 0o1777 })
    await copyFile(BUSYBOX, join(root, 'bin/busybox'))
    for (const applet of APPLETS) symlinkSync('busybox', join(root, 'bin', applet))
    const tar = spawn('tar', ['-C', root, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] })
    const [repo, tag] = TEST_IMAGE.split(':')
    const progress = await docker.importImage(tar.stdout, { repo, tag })
    await new Promise<void>((resolve, reject) =>
      docker.modem.followProgress(progress, (err) => (err ? reject(err) : resolve())),
    )
    await docker.getImage(TEST_IMAGE).inspect()
    return TEST_IMAGE
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

/** Containers a test left with its node label (a test's own node name keeps runs apart). */
export async function removeNodeContainers(node: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [`myntrix.node=${node}`] } })
  await Promise.all(
    list.map((c) =>
      docker
        .getContainer(c.Id)
        .remove({ force: true })
        .catch(() => {}),
    ),
  )
}
