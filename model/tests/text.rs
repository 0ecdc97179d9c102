//! Text: the tokenizer never fails on unknown words (it lists them), refuses empty and too long
//! texts precisely, round-trips through its file form; the encoder's outputs ignore padding.

use worldsim_model::text::tokenizer::{NULL, UNK};
use worldsim_model::text::{TextEncoderConfig, Tokenizer};
use worldsim_model::{Cpu, ModelError};

#[test]
fn unknown_words_are_kept_and_listed() {
    let tok = Tokenizer::world(64);
    let t = tok.encode("A red ball bouncing on the Moon-like glorp, glorp!").expect("tokenizes");
    assert_eq!(t.ids.len(), 10);
    assert_eq!(t.unknown, vec!["like".to_string(), "glorp".to_string()]);
    assert_eq!(t.ids.iter().filter(|i| **i == UNK).count(), 3);
    assert_eq!(tok.word(t.ids[1]), Some("red"));
    assert_eq!(tok.null().ids, vec![NULL]);
    assert_eq!(tok.vocab_size(), worldsim_scenes::vocabulary::vocabulary().len() + 3);
}

#[test]
fn empty_and_too_long_texts_are_precise_errors() {
    let tok = Tokenizer::world(8);
    for empty in ["", "  ", "123 !!"] {
        match tok.encode(empty) {
            Err(ModelError::Prompt { message }) => assert!(message.contains("no words"), "{message}"),
            other => panic!("{other:?}"),
        }
    }
    match tok.encode("one two three four five six seven eight nine") {
        Err(ModelError::Prompt { message }) => assert!(message.contains("9 words") && message.contains("at most 8")),
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_string(&tok).expect("serialises");
    let back: Tokenizer = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, tok);
}

#[test]
fn encoder_outputs_ignore_padding() {
    let device = Default::default();
    let tok = Tokenizer::world(64);
    let enc = TextEncoderConfig::new(tok.vocab_size(), 32).with_max_len(64).init::<Cpu>(&device);
    let short = tok.encode("red ball on snow").expect("ok");
    let long = tok.encode("a big blue box falls and lands on the sandy beach at night").expect("ok");
    let alone = enc.forward(std::slice::from_ref(&short), &device);
    let batched = enc.forward(&[short, long], &device);
    assert_eq!(batched.tokens.dims(), [2, 13, 32]);
    assert_eq!(batched.lens, vec![4, 13]);
    let d: f32 = (alone.tokens_of(0) - batched.tokens_of(0)).abs().max().into_scalar();
    let p: f32 = (alone.pooled.clone() - batched.pooled.clone().narrow(0, 0, 1)).abs().max().into_scalar();
    assert!(d < 1e-5 && p < 1e-5, "padding leaked: tokens {d}, pooled {p}");
}
