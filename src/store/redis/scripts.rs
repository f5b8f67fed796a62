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

// Shared by the family scripts. A family hash keeps every value short (at most 64 bytes,
// Redis's default `hash-max-listpack-value`) so it stays a compact listpack: each known
// access token is a field `a:<jti>` = expiry, and the successor kept for the grace
// window is five fields `ps_*`. Families written by earlier releases (one JSON `access`
// field, one JSON `prev_succ` field) are read as well, and converted at their next
// rotation.
macro_rules! family_lua {
    () => {
        r"
local fam = KEYS[1]
local function access_of(legacy)
  local out = {}
  if legacy then
    for _, a in ipairs(cjson.decode(legacy)) do
      table.insert(out, {jti = a['jti'], expires_at = tonumber(a['expires_at'])})
    end
  end
  local all = redis.call('HGETALL', fam)
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'a:' then
      table.insert(out, {jti = string.sub(all[i], 3), expires_at = tonumber(all[i + 1])})
    end
  end
  return out
end
"
    };
}

// The rotation decision of `store::refresh::rotation` (`decide`), in Lua because it must
// run inside Redis to be atomic: the same checks in the same order (ended → compromised →
// current → grace retry → reuse). It is held to the same table of cases as the Rust
// decision: `tests/conformance/rotation_cases.rs`, run by the conformance suite against
// this store (one server and a cluster) and by the unit test of `decide`.
//
// KEYS: family. ARGV: presented digest, now, grace, presented access jti, successor JSON,
// successor digest, access list bound. A family that ends is deleted here; the caller
// then drops it from the user's index (another slot on a cluster), hence the user id in
// every reply that ends one.
pub(super) const ROTATE: &str = concat!(
    family_lua!(),
    r"
if redis.call('EXISTS', fam) == 0 then return {'unknown'} end
local h = redis.call('HMGET', fam, 'user', 'expires', 'cur', 'cur_access', 'prev', 'prev_access',
  'prev_rotated', 'prev_succ_digest', 'ps_r', 'ps_a', 'ps_i', 'ps_re', 'ps_ae', 'prev_succ', 'access')
local user, expires, cur, cur_access = h[1], tonumber(h[2]), h[3], h[4]
local prev, prev_access, prev_rotated, prev_succ_digest = h[5], h[6], h[7], h[8]
local presented, now, grace, presented_access = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
if expires <= now then redis.call('DEL', fam) return {'unknown', user} end
local mapped = false
if presented == cur then mapped = cur_access elseif prev and presented == prev then mapped = prev_access end
if mapped and presented_access ~= '' and mapped ~= presented_access then
  local access = cjson.encode(access_of(h[15]))
  redis.call('DEL', fam) return {'compromised', user, access}
end
if presented == cur then
  local succ = cjson.decode(ARGV[5])
  if succ['refresh_expires_at'] > expires then succ['refresh_expires_at'] = expires end
  local encoded = cjson.encode(succ)
  -- The live access tokens, oldest first; the newest never makes way.
  local kept = {}
  for _, a in ipairs(access_of(h[15])) do
    if a['expires_at'] > now then table.insert(kept, a)
    else redis.call('HDEL', fam, 'a:' .. a['jti']) end
  end
  table.sort(kept, function(x, y) return x['expires_at'] < y['expires_at'] end)
  while #kept + 1 > tonumber(ARGV[7]) do
    redis.call('HDEL', fam, 'a:' .. kept[1]['jti'])
    table.remove(kept, 1)
  end
  redis.call('HDEL', fam, 'access', 'prev_succ')
  redis.call('HSET', fam, 'cur', ARGV[6], 'cur_access', succ['access_jti'], 'prev', presented,
    'prev_access', cur_access, 'prev_rotated', now, 'prev_succ_digest', ARGV[6],
    'ps_r', succ['refresh_jti'], 'ps_a', succ['access_jti'], 'ps_i', succ['issued_at'],
    'ps_re', succ['refresh_expires_at'], 'ps_ae', succ['access_expires_at'],
    'last_used', now, 'a:' .. succ['access_jti'], succ['access_expires_at'])
  for _, a in ipairs(kept) do redis.call('HSET', fam, 'a:' .. a['jti'], a['expires_at']) end
  return {'rotated', encoded}
end
if prev and presented == prev and grace > 0 and now <= tonumber(prev_rotated) + grace
   and cur == prev_succ_digest then
  if h[9] then
    return {'retry', cjson.encode({refresh_jti = h[9], access_jti = h[10], issued_at = tonumber(h[11]),
      refresh_expires_at = tonumber(h[12]), access_expires_at = tonumber(h[13])})}
  end
  return {'retry', h[14]}
end
local access = cjson.encode(access_of(h[15]))
redis.call('DEL', fam)
return {'reused', user, access}
"
);

// KEYS: family. Returns {user, access JSON}, or {} for no such family.
pub(super) const REVOKE_FAMILY: &str = concat!(
    family_lua!(),
    r"
if redis.call('EXISTS', fam) == 0 then return {} end
local h = redis.call('HMGET', fam, 'user', 'access')
local access = cjson.encode(access_of(h[2]))
redis.call('DEL', fam)
return {h[1] or '', access}
"
);

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

// One failed login: the first failure of a window sets its expiry; a key that somehow
// lost it (PTTL -1) gets one again, so no counter lives forever.
// KEYS: counter. ARGV: window in milliseconds. Returns {failures, milliseconds left}.
pub(super) const ADD_FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

// An attempt given back (refused, succeeded, or never checked): one less, never below
// zero; the key keeps its expiry (DECR does not touch it), a missing key stays missing.
// KEYS: counter. Returns the count after it.
pub(super) const REMOVE_FAILURE: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
";
