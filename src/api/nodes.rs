//! `GET /nodes`: the nodes of the cluster alive and the campaigns each dispatches (its leases),
//! for `pacer status` and the console. Counts only: no organisation's campaign is named.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Org;
use super::envelope::{self, ok};
use super::{ApiError, AppState};

pub fn routes(config: &mut web::ServiceConfig) {
    config.route("/nodes", web::get().to(nodes));
}

/// One node alive.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    /// `PACER_NODE_ID`, or the id generated at its start.
    #[schema(example = "node-7f3a")]
    node_id: String,
    /// Campaigns it dispatches now (every organisation's).
    leases_held: usize,
    /// The node that answered.
    this_node: bool,
}

/// The nodes alive, as their heartbeats say, the answering one first.
#[utoipa::path(get, path = "/api/public/v1/nodes", tag = "operations", operation_id = "list_nodes",
    responses((status = 200, body = envelope::Data<Vec<NodeView>>)))]
async fn nodes(state: web::Data<AppState>, Org(_): Org) -> Result<HttpResponse, ApiError> {
    let this = state.directory.node_id().to_owned();
    let mut nodes: Vec<NodeView> = state
        .directory
        .nodes()
        .await?
        .into_iter()
        .map(|beat| NodeView {
            this_node: beat.node == this,
            node_id: beat.node,
            leases_held: beat.n_held,
        })
        .collect();
    nodes.sort_by(|a, b| {
        b.this_node
            .cmp(&a.this_node)
            .then(a.node_id.cmp(&b.node_id))
    });
    Ok(ok(nodes))
}
