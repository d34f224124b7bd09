//! Protobuf ⇄ pipeline types. Offsets leave the pipeline as byte ranges and
//! are reported both as code points and as bytes.

use crate::{
    pipeline::{
        Analysis, ArticleRequest, Entities, InvalidRequest, Limits, SummaryLength, SummaryMode,
        Task, TaskSet,
    },
    proto,
    text::CharOffsets,
};

pub fn request(
    req: proto::AnalyzeRequest,
    limits: &Limits,
) -> Result<ArticleRequest, InvalidRequest> {
    let options = req.summary.unwrap_or_default();
    let length = SummaryLength::new(options.max_sentences, options.ratio, options.max_chars)?;
    let mode = match proto::summary_options::Mode::try_from(options.mode) {
        Ok(proto::summary_options::Mode::Unspecified) => SummaryMode::Auto,
        Ok(proto::summary_options::Mode::Extractive) => SummaryMode::Extractive,
        Ok(proto::summary_options::Mode::Abstractive) => SummaryMode::Abstractive,
        Err(_) => return Err(InvalidRequest::UnknownMode(options.mode)),
    };
    let tasks = req
        .tasks
        .iter()
        .map(|&t| match proto::Task::try_from(t) {
            Ok(proto::Task::Summary) => Ok(Task::Summary),
            Ok(proto::Task::Entities) => Ok(Task::Entities),
            Ok(proto::Task::Unspecified) | Err(_) => Err(InvalidRequest::UnknownTask(t)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    ArticleRequest::new(
        req.id,
        req.text,
        &req.language,
        length,
        mode,
        TaskSet::from_requested(&tasks),
        limits,
    )?
    .with_title(req.title)
}

pub fn response(request: &ArticleRequest, analysis: Analysis) -> proto::AnalyzeResponse {
    let text = request.text.as_str();
    let offsets = CharOffsets::new(text);
    let span = |r: &std::ops::Range<usize>, score: f32| proto::Span {
        start: offsets.to_char(r.start) as u32,
        end: offsets.to_char(r.end) as u32,
        score,
        byte_start: r.start as u32,
        byte_end: r.end as u32,
    };
    let summary = analysis.summary.map(|s| match s.generated {
        Some(generated) => proto::Summary {
            text: generated,
            sentences: Vec::new(),
        },
        None => proto::Summary {
            text: s
                .sentences
                .iter()
                .map(|(r, _)| &text[r.clone()])
                .collect::<Vec<_>>()
                .join(" "),
            sentences: s
                .sentences
                .iter()
                .map(|(r, score)| span(r, *score))
                .collect(),
        },
    });
    let Entities { mentions, grouping } = analysis.entities.unwrap_or_default();
    debug_assert_eq!(mentions.len(), grouping.group_of.len());
    let entities = mentions
        .into_iter()
        .zip(grouping.group_of.iter().map(|&g| g as u32))
        .map(|(e, group)| proto::Entity {
            text: text[e.bytes.clone()].to_string(),
            label: e.label,
            start: offsets.to_char(e.bytes.start) as u32,
            end: offsets.to_char(e.bytes.end) as u32,
            byte_start: e.bytes.start as u32,
            byte_end: e.bytes.end as u32,
            score: e.score,
            group,
        })
        .collect();
    let groups = grouping
        .groups
        .into_iter()
        .map(|g| proto::EntityGroup {
            name: g.name,
            label: g.label,
            mentions: g.mentions,
            salience: g.salience,
            latin: g.latin,
        })
        .collect();
    proto::AnalyzeResponse {
        id: request.id.clone(),
        language: analysis.language,
        summary,
        entities,
        error: None,
        groups,
    }
}
