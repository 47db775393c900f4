//! What keygate sends out besides its table calls: webhook deliveries. A peer of the store,
//! below the services, which decide where and what to send; this layer only sends.

pub mod webhook_sender;
