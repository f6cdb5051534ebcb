//! URI minimisation.
