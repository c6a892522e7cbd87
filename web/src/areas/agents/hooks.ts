// Agents' server data: the list, one agent, and the actions. Every answer that
// carries an agent is written into the cache at once; the scene feed keeps
// status, health and load current in between (api/scene-feed.ts).

import { keepPreviousData, queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useEffect, useRef } from 'react'
import { api, unwrap } from '../../api/client'
import { PAGE_SIZE, toPage } from '../../api/paging'
import { agentsKey } from '../../api/scene-feed'
import type { Agent, CreateAgent, UpdateAgent } from '../../api/types'

/** One page of agents (the list page), or up to `limit` of them (a form's choice of agent). */
export function agentsQuery(offset = 0, limit = PAGE_SIZE) {
  return queryOptions({
    queryKey: [...agentsKey, 'list', offset, limit],
    queryFn: async () =>
      toPage(await api.GET('/api/myntrix/agents', { params: { query: { offset, limit } } }), offset),
    placeholderData: keepPreviousData,
  })
}

export function useAgents(offset = 0, limit = PAGE_SIZE) {
  return useQuery(agentsQuery(offset, limit))
}

export function useAgent(id: string) {
  // The status the server last sent in full. The scene feed patches only the status and
  // load: a new status comes with facts it does not carry (why, the last exit, pid or
  // container), so a status other than the fetched one fetches the agent again.
  const fetchedStatus = useRef<string | null>(null)
  const query = useQuery({
    queryKey: [...agentsKey, 'one', id],
    queryFn: async () => {
      const agent = unwrap(await api.GET('/api/myntrix/agents/{id}', { params: { path: { id } } }))
      fetchedStatus.current = agent.status
      return agent
    },
  })
  const status = query.data?.status
  const { refetch } = query
  useEffect(() => {
    if (status !== undefined && fetchedStatus.current !== null && status !== fetchedStatus.current) {
      void refetch()
    }
  }, [status, refetch])
  return query
}

function useStoreAgent() {
  const client = useQueryClient()
  return (agent: Agent) => {
    client.setQueryData([...agentsKey, 'one', agent.id], agent)
    void client.invalidateQueries({ queryKey: [...agentsKey, 'list'] })
  }
}

export function useCreateAgent() {
  const store = useStoreAgent()
  return useMutation({
    mutationFn: async (body: CreateAgent) => unwrap(await api.POST('/api/myntrix/agents', { body })),
    onSuccess: store,
  })
}

export function useUpdateAgent(id: string) {
  const store = useStoreAgent()
  return useMutation({
    mutationFn: async (body: UpdateAgent) =>
      unwrap(await api.PUT('/api/myntrix/agents/{id}', { params: { path: { id } }, body })),
    onSuccess: store,
  })
}

export type AgentAction = 'start' | 'stop' | 'restart'

export function useAgentAction() {
  const store = useStoreAgent()
  return useMutation({
    mutationFn: async ({ id, action }: { id: string; action: AgentAction }) => {
      const params = { params: { path: { id } } }
      if (action === 'start') return unwrap(await api.POST('/api/myntrix/agents/{id}/start', params))
      if (action === 'stop') return unwrap(await api.POST('/api/myntrix/agents/{id}/stop', params))
      return unwrap(await api.POST('/api/myntrix/agents/{id}/restart', params))
    },
    onSuccess: store,
  })
}

export function useDeleteAgent() {
  const client = useQueryClient()
  return useMutation({
    mutationFn: async (id: string) =>
      unwrap(await api.DELETE('/api/myntrix/agents/{id}', { params: { path: { id } } })),
    onSuccess: (_r, id) => {
      client.removeQueries({ queryKey: [...agentsKey, 'one', id] })
      void client.invalidateQueries({ queryKey: [...agentsKey, 'list'] })
    },
  })
}
