//! Word tokenizer: lower-case runs of letters, looked up in a fixed word list (stored with the
//! weights). Unknown words become the unknown token and are listed back to the caller; an empty
//! or too long text is a precise error.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::ModelError;

/// Padding.
pub const PAD: u32 = 0;
/// A word outside the vocabulary.
pub const UNK: u32 = 1;
/// The empty condition (classifier-free guidance's unconditional branch, dropped captions).
pub const NULL: u32 = 2;
const SPECIALS: [&str; 3] = ["<pad>", "<unk>", "<null>"];

/// A tokenized text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// Token ids.
    pub ids: Vec<u32>,
    /// The words that were not in the vocabulary, in order of appearance, each once.
    pub unknown: Vec<String>,
}

/// The tokenizer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "TokenizerFile", into = "TokenizerFile")]
pub struct Tokenizer {
    words: Vec<String>,
    index: HashMap<String, u32>,
    max_len: usize,
}

#[derive(Serialize, Deserialize)]
struct TokenizerFile {
    words: Vec<String>,
    max_len: usize,
}

impl From<TokenizerFile> for Tokenizer {
    fn from(f: TokenizerFile) -> Self {
        Tokenizer::new(f.words, f.max_len)
    }
}

impl From<Tokenizer> for TokenizerFile {
    fn from(t: Tokenizer) -> Self {
        TokenizerFile { words: t.words, max_len: t.max_len }
    }
}

impl Tokenizer {
    /// A tokenizer over `words` (special tokens come first) reading at most `max_len` words.
    pub fn new(words: Vec<String>, max_len: usize) -> Self {
        let mut all: Vec<String> = SPECIALS.iter().map(|s| s.to_string()).collect();
        all.extend(words.into_iter().filter(|w| !SPECIALS.contains(&w.as_str())));
        let index = all.iter().enumerate().map(|(i, w)| (w.clone(), i as u32)).collect();
        Tokenizer { words: all, index, max_len }
    }

    /// The world's vocabulary (`worldsim_scenes::vocabulary`).
    pub fn world(max_len: usize) -> Self {
        Tokenizer::new(worldsim_scenes::vocabulary::vocabulary().into_iter().collect(), max_len)
    }

    /// Token ids in all, special ones included.
    pub fn vocab_size(&self) -> usize {
        self.words.len()
    }

    /// Most words a text may have.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The word of an id.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// Tokenizes `text`; unknown words are kept (as [`UNK`]) and listed.
    pub fn encode(&self, text: &str) -> Result<Tokens, ModelError> {
        let words: Vec<String> = worldsim_scenes::vocabulary::words(text).collect();
        if words.is_empty() {
            return Err(ModelError::Prompt {
                message: format!(
                    "{text:?} has no words; describe the scene, e.g. \"red ball bouncing on snow\" (letters only count)"
                ),
            });
        }
        if words.len() > self.max_len {
            return Err(ModelError::Prompt {
                message: format!(
                    "the text has {} words; this model reads at most {}: shorten it (a short prompt is expanded for you)",
                    words.len(),
                    self.max_len
                ),
            });
        }
        let mut unknown: Vec<String> = Vec::new();
        let ids = words
            .into_iter()
            .map(|w| match self.index.get(&w) {
                Some(id) if *id >= SPECIALS.len() as u32 => *id,
                _ => {
                    if !unknown.contains(&w) {
                        unknown.push(w);
                    }
                    UNK
                }
            })
            .collect();
        Ok(Tokens { ids, unknown })
    }

    /// The empty condition.
    pub fn null(&self) -> Tokens {
        Tokens { ids: vec![NULL], unknown: Vec::new() }
    }
}
