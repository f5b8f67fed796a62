//! The Lua scripts. Each touches only the keys it is given in `KEYS` (on a cluster they
//! share one hash tag, so one slot); the publish command (`PUBLISH`, or `SPUBLISH` on a
//! cluster) is an argument, the channel a key of the same slot.

// The longer expiry wins (EXPIRETIME is -2 for a missing key).
// KEYS: rev key, channel. ARGV: expiry, message, publish command.
pub(super) const REVOKE: &str = r"
if redis.call('EXPIRETIME', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'EXAT', ARGV[1])
end
redis.call(ARGV[3], KEYS[2], ARGV[2])
return 1
";

// The generation and the cutoff move together, and one message carries both.
// KEYS: gen, channel, cut. ARGV: user, issue instant, publish command.
pub(super) const BUMP_GENERATION: &str = r"
local n = redis.call('INCR', KEYS[1])
local cut = tonumber(redis.call('GET', KEYS[3]) or '0')
if cut < tonumber(ARGV[2]) then
  cut = tonumber(ARGV[2])
  redis.call('SET', KEYS[3], ARGV[2])
end
redis.call(ARGV[3], KEYS[2], 'c:' .. n .. ':' .. cut .. ':' .. ARGV[1])
return n
";

// KEYS: family. ARGV: field/value pairs..., expiry (last).
pub(super) const CREATE_FAMILY: &str = r"
local n = #ARGV
redis.call('HSET', KEYS[1], unpack(ARGV, 1, n - 1))
redis.call('EXPIREAT', KEYS[1], ARGV[n])
return 1
";

// KEYS: family. ARGV: presented digest, now, grace, presented access jti, successor JSON,
// successor digest, access list bound. A family that ends is deleted here; the caller
// then drops it from the user's index (another slot on a cluster), hence the user id in
// every reply that ends one.
pub(super) const ROTATE: &str = r"
local fam = KEYS[1]
if redis.call('EXISTS', fam) == 0 then return {'unknown'} end
local h = redis.call('HMGET', fam, 'user', 'expires', 'cur', 'cur_access', 'prev', 'prev_access',
  'prev_rotated', 'prev_succ', 'prev_succ_digest', 'access')
local user, expires, cur, cur_access = h[1], tonumber(h[2]), h[3], h[4]
local prev, prev_access, prev_rotated, prev_succ, prev_succ_digest = h[5], h[6], h[7], h[8], h[9]
local access = h[10] or '[]'
local presented, now, grace, presented_access = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if expires <= now then redis.call('DEL', fam) return {'unknown', user} end
local mapped = false
if presented == cur then mapped = cur_access elseif prev and presented == prev then mapped = prev_access end
if mapped and presented_access ~= '' and mapped ~= presented_access then
  redis.call('DEL', fam) return {'compromised', user, access}
end
if presented == cur then
  local succ = cjson.decode(ARGV[5])
  if succ['refresh_expires_at'] > expires then succ['refresh_expires_at'] = expires end
  local encoded = cjson.encode(succ)
  local list = cjson.decode(access)
  local kept = {}
  for _, a in ipairs(list) do if a['expires_at'] > now then table.insert(kept, a) end end
  table.insert(kept, {jti = succ['access_jti'], expires_at = succ['access_expires_at']})
  while #kept > tonumber(ARGV[7]) do table.remove(kept, 1) end
  redis.call('HSET', fam, 'cur', ARGV[6], 'cur_access', succ['access_jti'], 'prev', presented,
    'prev_access', cur_access, 'prev_rotated', now, 'prev_succ', encoded, 'prev_succ_digest', ARGV[6],
    'last_used', now, 'access', cjson.encode(kept))
  return {'rotated', encoded}
end
if prev and presented == prev and grace > 0 and now <= tonumber(prev_rotated) + grace
   and cur == prev_succ_digest then
  return {'retry', prev_succ}
end
redis.call('DEL', fam)
return {'reused', user, access}
";

// KEYS: family. Returns {user, access JSON}, or {} for no such family.
pub(super) const REVOKE_FAMILY: &str = r"
local fam = KEYS[1]
if redis.call('EXISTS', fam) == 0 then return {} end
local h = redis.call('HMGET', fam, 'user', 'access')
redis.call('DEL', fam)
return {h[1] or '', h[2] or '[]'}
";

// KEYS: grants hash, audit list (one tenant: one slot).
pub(super) const GRANT: &str = r"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[3])
return 1
";

pub(super) const REVOKE_GRANT: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
";
