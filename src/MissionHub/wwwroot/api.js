// Every REST call the dashboard makes, through one fetch wrapper that turns problem+json into an Error with the
// server's own words (detail) and the HTTP status.

export async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: body === undefined ? { Accept: 'application/json' } : { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) {
    const detail = data && typeof data === 'object' ? (data.detail || data.title) : null;
    const err = new Error(detail ? `${detail} (HTTP ${response.status})` : `HTTP ${response.status} ${response.statusText}`);
    err.status = response.status;
    err.data = data;
    throw err;
  }
  return data;
}

const id = encodeURIComponent;

// Missions
export const listMissions = (limit) => api('GET', `/api/missions?limit=${limit}`);
export const missionStats = () => api('GET', '/api/missions/stats');
export const getMission = (missionId) => api('GET', `/api/missions/${id(missionId)}`);
export const missionLog = (missionId, cursor) => api('GET', `/api/missions/${id(missionId)}/log?limit=1000${cursor ? `&cursor=${id(cursor)}` : ''}`);
export const createMission = (body) => api('POST', '/api/missions', body);
export const setMissionStatus = (missionId, status) => api('POST', `/api/missions/${id(missionId)}/status`, { status });

// Jobs and queues
export const listJobs = (query) => api('GET', `/api/jobs?${query}`);
export const submitJob = (body) => api('POST', '/api/jobs', body);
export const jobAction = (jobId, action) => api('POST', `/api/jobs/${id(jobId)}/${action}`);
export const bulkJobs = (action, query) => api('POST', `/api/jobs/${action}?${query}`);
export const listQueues = () => api('GET', '/api/queues');
export const setQueuePaused = (jobType, pause) => api('POST', `/api/queues/${id(jobType)}/${pause ? 'pause' : 'resume'}`);

// Agents, telemetry, supervisor
export const robots = () => api('GET', '/api/telemetry/robots');
export const robotHistory = (robotId, from, to) => api('GET', `/api/telemetry/robots/${id(robotId)}/history?from=${from.toFixed(3)}&to=${to.toFixed(3)}&step=5`);
export const supervisorAgents = () => api('GET', '/api/supervisor/agents');
export const health = () => api('GET', '/api/supervisor/health');

// History: the hub as it was at a seq, the events after one, and one action's chain
export const stateAt = (seq) => api('GET', seq == null ? '/api/state' : `/api/state?at_seq=${seq}`);
export const stateAtTime = (unixSeconds) => api('GET', `/api/state?at_time=${unixSeconds}`);
export const eventsAfter = (afterSeq, limit = 500) => api('GET', `/api/events?after_seq=${afterSeq}&limit=${limit}`);
export const chain = (key, value) => api('GET', `/api/events/chain?${key}=${id(value)}`);

// Who is signed in
export const me = () => api('GET', '/api/auth/me');
export const signIn = (key) => api('POST', '/api/auth/session', { key });
export const signOut = () => api('DELETE', '/api/auth/session');
