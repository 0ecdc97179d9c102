//! Text: a tokenizer over the world's closed vocabulary that never fails on unknown words
//! ([`tokenizer`]), and the small transformer that encodes captions for the DiT ([`encoder`]).

pub mod encoder;
pub mod tokenizer;

pub use encoder::{TextEncoder, TextEncoderConfig};
pub use tokenizer::{Tokenizer, Tokens};
