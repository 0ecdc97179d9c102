//! The egui control panel (feature `egui`): prompt box, action buttons and key hints, sliders
//! for steps and guidance, pause and reset, live stats, and the words of the prompt the model
//! does not know. Add [`WorldSimPanelPlugin`] next to [`crate::WorldSimPlugin`].

use bevy::prelude::*;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use worldsim_scenes::scene::Action;

use crate::components::{StreamAction, StreamPrompt, StreamStats, StreamStatus, WorldStream};
use crate::keyboard::KEY_HINTS;
use crate::messages::ResetStream;
use crate::settings::WorldSimSettings;

/// The panel (adds bevy_egui's `EguiPlugin` when the app has none).
#[derive(Default)]
pub struct WorldSimPanelPlugin;

impl Plugin for WorldSimPanelPlugin {
    fn build(&self, app: &mut App) {
        if !app.is_plugin_added::<EguiPlugin>() {
            app.add_plugins(EguiPlugin::default());
        }
        app.init_resource::<PanelState>().add_systems(EguiPrimaryContextPass, panel);
    }
}

/// What the panel edits.
#[derive(Resource, Default, Debug)]
pub struct PanelState {
    /// The stream the panel steers (the first one when `None`).
    pub target: Option<Entity>,
    /// The prompt being typed.
    draft: Option<String>,
}

const ACTIONS: [(&str, Option<Action>); 6] = [
    ("< left", Some(Action::Left)),
    ("right >", Some(Action::Right)),
    ("jump", Some(Action::Jump)),
    ("paint", Some(Action::Paint)),
    ("stand", Some(Action::Stand)),
    ("none", None),
];

fn panel(
    mut contexts: EguiContexts,
    mut state: ResMut<PanelState>,
    mut settings: ResMut<WorldSimSettings>,
    mut streams: Query<(Entity, &WorldStream, &mut StreamPrompt, &mut StreamAction, &StreamStats)>,
    mut resets: MessageWriter<ResetStream>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    let entities: Vec<Entity> = streams.iter().map(|(e, ..)| e).collect();
    let target = state.target.filter(|t| entities.contains(t)).or(entities.first().copied());
    egui::Window::new("worldsim").default_width(300.0).show(ctx, |ui| {
        if entities.len() > 1 {
            ui.horizontal(|ui| {
                ui.label("stream");
                for (i, e) in entities.iter().enumerate() {
                    if ui.selectable_label(Some(*e) == target, format!("{}", i + 1)).clicked() {
                        state.target = Some(*e);
                    }
                }
            });
        }
        let Some(target) = target else {
            ui.label("no stream yet");
            return;
        };
        let Ok((entity, stream, mut prompt, mut action, stats)) = streams.get_mut(target) else { return };

        ui.label("prompt (Enter applies)");
        let draft = state.draft.get_or_insert_with(|| prompt.0.clone());
        let edit = ui.add(egui::TextEdit::singleline(draft).desired_width(f32::INFINITY));
        if edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) && *draft != prompt.0 {
            prompt.0 = draft.clone();
        }
        if !stats.unknown_words.is_empty() {
            ui.colored_label(
                egui::Color32::from_rgb(230, 150, 60),
                format!("unknown words: {}", stats.unknown_words.join(", ")),
            );
        }

        ui.separator();
        ui.horizontal_wrapped(|ui| {
            for (label, a) in ACTIONS {
                let wanted = a.map(StreamAction::player).unwrap_or_default();
                if ui.selectable_label(*action == wanted, label).clicked() {
                    *action = wanted;
                }
            }
        });
        ui.small(KEY_HINTS.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(" · "));

        ui.separator();
        let mut steps = settings.steps;
        let mut guidance = settings.guidance;
        let mut paused = settings.paused;
        ui.add(egui::Slider::new(&mut steps, 1..=30).text("steps"));
        ui.add(egui::Slider::new(&mut guidance, 1.0..=12.0).text("guidance"));
        ui.horizontal(|ui| {
            ui.checkbox(&mut paused, "pause");
            if ui.button("reset").clicked() {
                resets.write(ResetStream { stream: entity });
            }
        });
        if (steps, guidance, paused) != (settings.steps, settings.guidance, settings.paused) {
            settings.steps = steps;
            settings.guidance = guidance;
            settings.paused = paused;
        }

        ui.separator();
        match &stats.status {
            StreamStatus::Starting => ui.label("starting (loading the model)…"),
            StreamStatus::Running => ui.label(format!("{}×{} at {} fps", stream.width, stream.height, stream.fps)),
            StreamStatus::Stopped(why) => ui.colored_label(egui::Color32::LIGHT_RED, format!("stopped: {why}")),
        };
        egui::Grid::new("worldsim-stats").num_columns(2).show(ui, |ui| {
            let rows = [
                ("model fps", format!("{:.1}", stats.model_fps)),
                ("display fps", format!("{:.1}", stats.display_fps)),
                ("latency", format!("{:.0} ms", stats.latency_ms)),
                ("queue", format!("{} frames", stats.queued)),
                ("starved", format!("{}", stats.starved)),
                (
                    "step",
                    format!(
                        "{:.0} + {:.0} + {:.0} ms (denoise, cache, decode)",
                        stats.step_ms[0], stats.step_ms[1], stats.step_ms[2]
                    ),
                ),
            ];
            for (k, v) in rows {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            }
        });
        ui.collapsing("caption", |ui| ui.small(&stats.caption));
    });
    Ok(())
}
