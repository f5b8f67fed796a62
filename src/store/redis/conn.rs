//! One connection type over a single node or a cluster, `SCAN` over every master, and
//! writes acknowledged by replicas (`WAIT`).

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, FromRedisValue, Pipeline, RedisFuture, Value};

use super::map_err;
use crate::store::StoreError;

/// A single-node connection manager or a cluster connection; both reconnect by themselves.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// A master to send node-local commands (`SCAN`, the pipelines over what it returned) to.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// The one server of a single-node store.
    Only,
    /// A cluster master, by address.
    Master { host: String, port: u16 },
}

impl Conn {
    /// The masters of the cluster now (`CLUSTER SLOTS`), or the one server.
    pub(super) async fn masters(&mut self) -> Result<Vec<Node>, StoreError> {
        let Conn::Cluster(c) = self else {
            return Ok(vec![Node::Only]);
        };
        let slots = c
            .route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await
            .map_err(map_err)?;
        // [[start, end, [host, port, id, …], replica…], …]
        let ranges: Vec<Vec<Value>> = FromRedisValue::from_redis_value(slots)
            .map_err(|_| StoreError::Backend("unexpected CLUSTER SLOTS reply".into()))?;
        let mut out: Vec<Node> = Vec::new();
        for range in ranges {
            let Some(Value::Array(master)) = range.get(2) else {
                continue;
            };
            let (Some(host), Some(port)) = (master.first(), master.get(1)) else {
                continue;
            };
            let (Ok(host), Ok(port)) = (
                String::from_redis_value(host.clone()),
                u16::from_redis_value(port.clone()),
            ) else {
                continue;
            };
            if !out
                .iter()
                .any(|n| matches!(n, Node::Master { host: h, port: p } if *h == host && *p == port))
            {
                out.push(Node::Master { host, port });
            }
        }
        if out.is_empty() {
            return Err(StoreError::Unavailable(
                "redis cluster has no masters".into(),
            ));
        }
        Ok(out)
    }

    /// Runs `pipe` on `node` and returns one value per command.
    pub(super) async fn pipe_on<T: FromRedisValue>(
        &mut self,
        node: &Node,
        pipe: Pipeline,
    ) -> Result<T, StoreError> {
        match (self, node) {
            (Conn::Cluster(c), Node::Master { host, port }) => {
                let n = pipe.cmd_iter().count();
                let values = c
                    .route_pipeline(
                        pipe,
                        0,
                        n,
                        SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        },
                    )
                    .await
                    .map_err(map_err)?;
                T::from_redis_value(Value::Array(values))
                    .map_err(|_| StoreError::Backend("unexpected redis reply".into()))
            }
            (conn, _) => pipe.query_async(conn).await.map_err(map_err),
        }
    }
}

/// `SCAN … MATCH pattern` in batches over every master, until each cursor is back at 0.
pub(super) struct KeyScan {
    pattern: String,
    nodes: Vec<Node>,
    cursor: u64,
}

impl KeyScan {
    pub(super) async fn new(conn: &mut Conn, pattern: String) -> Result<Self, StoreError> {
        let mut nodes = conn.masters().await?;
        nodes.reverse();
        Ok(KeyScan {
            pattern,
            nodes,
            cursor: 0,
        })
    }

    /// The next batch of keys and the master that holds them.
    pub(super) async fn next_batch(
        &mut self,
        conn: &mut Conn,
    ) -> Result<Option<(Node, Vec<String>)>, StoreError> {
        let Some(node) = self.nodes.last().cloned() else {
            return Ok(None);
        };
        let mut pipe = redis::pipe();
        pipe.cmd("SCAN")
            .arg(self.cursor)
            .arg("MATCH")
            .arg(&self.pattern)
            .arg("COUNT")
            .arg(1000);
        let ((next, keys),): ((u64, Vec<String>),) = conn.pipe_on(&node, pipe).await?;
        self.cursor = next;
        if next == 0 {
            self.nodes.pop();
        }
        Ok(Some((node, keys)))
    }
}
