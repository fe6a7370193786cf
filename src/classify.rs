//! TODO(owner): see module plan in lib.rs
