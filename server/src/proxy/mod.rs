//! The inference path. Built so far: the [`registry`], the in-memory snapshot the request
//! path reads. The request's journey (auth → limits → balancer → failover → providers →
//! usage) is the rest of issue #3.

pub mod registry;
