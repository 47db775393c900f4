//! External API surfaces, each answered at its documented paths and in its documented
//! shapes. A dialect translates paths, bodies, shapes and error formats onto the services;
//! it holds no business rule of its own.

pub mod asksage;
