//! The interactive view (`kiln analyze -i`), in the spirit of dive: layers on the left (with the selected
//! layer's details and the image's numbers below), the filesystem after the selected layer on the right,
//! each path marked with what that layer did to it (`A` added, `M` modified, `R` removed), directories
//! collapsible, the tree filterable by path and by mark.
//!
//! Keys: `Tab` switches panes; `↑`/`↓`/`k`/`j`, `PgUp`/`PgDn`, `Home`/`End` move; in the tree `Space` or
//! `Enter` collapses or expands a directory, `c` collapses all, `e` expands all; `/` (or `Ctrl-F`) edits
//! the path filter (`Enter` keeps it, `Esc` clears it); `a`, `m`, `r`, `u` show or hide added, modified,
//! removed and unmodified paths; `q`, `Esc` or `Ctrl-C` quits. The view model ([`LayerView`]) is plain
//! data so it is tested without a terminal.

use std::collections::{BTreeMap, HashMap, HashSet};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::{DefaultTerminal, Frame};

use crate::analysis::Analysis;
use crate::error::{AnalyzeError, Result};
use crate::render::{human_bytes, sanitize, truncate};
use crate::scan::{FileKind, LayerEntry};
use crate::tree::{EntryStatus, FsTree, ROOT};

/// What the selected layer did to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mark {
    /// New in this layer.
    Added,
    /// Changed by this layer (for a directory: something below it changed).
    Modified,
    /// Deleted by this layer.
    Removed,
    /// Untouched (or rewritten identically).
    Unmodified,
}

impl Mark {
    fn index(self) -> usize {
        match self {
            Mark::Added => 0,
            Mark::Modified => 1,
            Mark::Removed => 2,
            Mark::Unmodified => 3,
        }
    }

    fn symbol(self) -> &'static str {
        ["A", "M", "R", " "][self.index()]
    }

    fn style(self) -> Style {
        match self {
            Mark::Added => Style::new().fg(Color::Green),
            Mark::Modified => Style::new().fg(Color::Yellow),
            Mark::Removed => Style::new().fg(Color::Red),
            Mark::Unmodified => Style::new(),
        }
    }
}

/// A path in a [`LayerView`].
#[derive(Debug, Clone)]
pub struct ViewNode {
    /// The path component.
    pub name: String,
    /// The full path (no leading `/`).
    pub path: String,
    /// What it is (`Dir` for directories with no entry).
    pub kind: FileKind,
    /// A file's size, or a directory's total (removed content not counted unless it is removed itself).
    pub size: u64,
    /// What the layer did.
    pub mark: Mark,
    /// Symlink or hardlink target.
    pub link: Option<String>,
    /// Children, by name.
    pub children: Vec<usize>,
}

/// The filesystem after one layer, marked with that layer's changes.
#[derive(Debug, Clone)]
pub struct LayerView {
    /// Node 0 is the root.
    pub nodes: Vec<ViewNode>,
}

/// A visible row of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The node.
    pub node: usize,
    /// Tree-drawing prefix (`│   ├── `).
    pub prefix: String,
}

impl LayerView {
    /// The view of layer `layer` of `a`.
    pub fn new(a: &Analysis, layer: usize) -> LayerView {
        let entries: Vec<&[LayerEntry]> = a.layer_entries();
        let (after, _) = FsTree::build(&entries[..=layer]);
        let delta = &a.deltas[layer];
        let mut marks: HashMap<&str, Mark> = HashMap::new();
        for (e, status) in entries[layer].iter().zip(&delta.statuses) {
            let mark = match status {
                EntryStatus::Added => Mark::Added,
                EntryStatus::Modified { .. } | EntryStatus::MetadataOnly { .. } => Mark::Modified,
                EntryStatus::Unchanged { .. } | EntryStatus::Deletion => continue,
            };
            marks.insert(&e.path, mark);
        }
        // Build path → node with the tree after the layer, then graft what it removed.
        let mut nested: BTreeMap<String, (FileKind, u64, Mark, Option<String>)> = BTreeMap::new();
        for id in after.descendants(ROOT) {
            let path = after.path(id);
            let e = after.entry(&entries, id);
            let kind = e.map_or(FileKind::Dir, |e| e.kind);
            let mark = marks.get(path.as_str()).copied().unwrap_or(Mark::Unmodified);
            let link = e.and_then(|e| e.link.as_deref().map(str::to_owned));
            nested.insert(path, (kind, e.map_or(0, |e| e.size), mark, link));
        }
        for r in delta.removed.iter().filter(|r| !r.replaced) {
            let kind = entries[r.owner.layer][r.owner.index].kind;
            let mut parent = r.path.as_str();
            while let Some((p, _)) = parent.rsplit_once('/') {
                nested.entry(p.to_owned()).or_insert((FileKind::Dir, 0, Mark::Removed, None));
                parent = p;
            }
            nested.insert(r.path.clone(), (kind, r.size, Mark::Removed, None));
        }
        let mut view = LayerView {
            nodes: vec![ViewNode {
                name: "/".into(),
                path: String::new(),
                kind: FileKind::Dir,
                size: 0,
                mark: Mark::Unmodified,
                link: None,
                children: vec![],
            }],
        };
        let mut index: HashMap<String, usize> = HashMap::new();
        // A parent's path is a prefix of its children's, so the BTreeMap yields parents first.
        for (path, (kind, size, mark, link)) in nested {
            let (parent_path, name) = path.rsplit_once('/').unwrap_or(("", &path));
            let parent =
                if parent_path.is_empty() { 0 } else { index.get(parent_path).copied().unwrap_or(0) };
            let id = view.nodes.len();
            view.nodes.push(ViewNode {
                name: name.to_owned(),
                path: path.clone(),
                kind,
                size,
                mark,
                link,
                children: vec![],
            });
            view.nodes[parent].children.push(id);
            index.insert(path, id);
        }
        let names: Vec<String> = view.nodes.iter().map(|n| n.name.clone()).collect();
        for n in &mut view.nodes {
            n.children.sort_by(|x, y| names[*x].cmp(&names[*y]));
        }
        view.finish(0);
        view
    }

    /// Directory sizes and marks from their children; returns (size, changed below).
    fn finish(&mut self, id: usize) -> (u64, bool) {
        let kids = self.nodes[id].children.clone();
        let mut size = 0;
        let mut changed = false;
        for k in kids {
            let (s, c) = self.finish(k);
            if self.nodes[k].mark != Mark::Removed || self.nodes[id].mark == Mark::Removed {
                size += s;
            }
            changed |= c;
        }
        let n = &mut self.nodes[id];
        if n.kind == FileKind::Dir {
            n.size = size;
            if changed && n.mark == Mark::Unmodified {
                n.mark = Mark::Modified;
            }
        }
        (n.size, changed || n.mark != Mark::Unmodified)
    }

    /// The visible rows: collapsed directories hide their children; a path shows when its mark is shown
    /// and it contains `filter` (or something below it does).
    pub fn rows(&self, collapsed: &HashSet<String>, filter: &str, show: [bool; 4]) -> Vec<Row> {
        let mut visible = vec![false; self.nodes.len()];
        self.mark_visible(0, filter, show, &mut visible);
        let mut rows = Vec::new();
        self.push_rows(0, "", collapsed, &visible, &mut rows);
        rows
    }

    fn mark_visible(&self, id: usize, filter: &str, show: [bool; 4], visible: &mut [bool]) -> bool {
        let n = &self.nodes[id];
        let mut any = false;
        for &k in &n.children {
            any |= self.mark_visible(k, filter, show, visible);
        }
        let own = show[n.mark.index()] && (filter.is_empty() || n.path.contains(filter));
        visible[id] = own || any;
        visible[id]
    }

    fn push_rows(
        &self,
        id: usize,
        prefix: &str,
        collapsed: &HashSet<String>,
        visible: &[bool],
        out: &mut Vec<Row>,
    ) {
        let kids: Vec<usize> = self.nodes[id].children.iter().copied().filter(|&k| visible[k]).collect();
        for (i, &k) in kids.iter().enumerate() {
            let last = i + 1 == kids.len();
            out.push(Row {
                node: k, prefix: format!("{prefix}{}", if last { "└── " } else { "├── " })
            });
            if !collapsed.contains(&self.nodes[k].path) {
                let next = format!("{prefix}{}", if last { "    " } else { "│   " });
                self.push_rows(k, &next, collapsed, visible, out);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focus {
    Layers,
    Tree,
}

struct App<'a> {
    a: &'a Analysis,
    layer: usize,
    focus: Focus,
    views: HashMap<usize, LayerView>,
    collapsed: HashSet<String>,
    cursor: usize,
    filter: String,
    editing: Option<String>,
    show: [bool; 4],
    quit: bool,
}

/// Runs the interactive view until the user quits.
pub fn run(a: &Analysis) -> Result<()> {
    if a.layers.is_empty() {
        return Err(AnalyzeError::invalid(&a.image, "the image has no layers to show"));
    }
    let mut terminal = ratatui::try_init()
        .map_err(|source| AnalyzeError::Terminal { action: "starting the terminal UI", source })?;
    let mut app = App {
        a,
        layer: 0,
        focus: Focus::Layers,
        views: HashMap::new(),
        collapsed: HashSet::new(),
        cursor: 0,
        filter: String::new(),
        editing: None,
        show: [true; 4],
        quit: false,
    };
    let result = app.event_loop(&mut terminal);
    let restored = ratatui::try_restore();
    result?;
    restored.map_err(|source| AnalyzeError::Terminal { action: "restoring the terminal", source })
}

impl App<'_> {
    fn event_loop(&mut self, terminal: &mut DefaultTerminal) -> Result<()> {
        while !self.quit {
            self.views.entry(self.layer).or_insert_with(|| LayerView::new(self.a, self.layer));
            terminal
                .draw(|f| self.draw(f))
                .map_err(|source| AnalyzeError::Terminal { action: "drawing", source })?;
            match event::read()
                .map_err(|source| AnalyzeError::Terminal { action: "reading a key", source })?
            {
                Event::Key(k) if k.kind != KeyEventKind::Release => self.key(k),
                _ => {}
            }
        }
        Ok(())
    }

    fn rows(&self) -> Vec<Row> {
        self.views
            .get(&self.layer)
            .map_or_else(Vec::new, |v| v.rows(&self.collapsed, &self.filter, self.show))
    }

    fn key(&mut self, k: KeyEvent) {
        let ctrl = k.modifiers.contains(KeyModifiers::CONTROL);
        if let Some(text) = &mut self.editing {
            match k.code {
                KeyCode::Enter => {
                    self.filter = self.editing.take().unwrap_or_default();
                    self.cursor = 0;
                }
                KeyCode::Esc => {
                    self.editing = None;
                    self.filter.clear();
                }
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) if !ctrl => text.push(c),
                _ => {}
            }
            return;
        }
        let rows = self.rows().len();
        let step = |cursor: &mut usize, delta: isize, len: usize| {
            *cursor = (*cursor as isize + delta).clamp(0, len.saturating_sub(1) as isize) as usize;
        };
        match (k.code, ctrl) {
            (KeyCode::Char('c'), true) | (KeyCode::Char('q'), false) | (KeyCode::Esc, _) => self.quit = true,
            (KeyCode::Tab | KeyCode::BackTab, _) => {
                self.focus = if self.focus == Focus::Layers { Focus::Tree } else { Focus::Layers };
            }
            (KeyCode::Char('/'), false) | (KeyCode::Char('f'), true) => {
                self.editing = Some(self.filter.clone())
            }
            (KeyCode::Char(c @ ('a' | 'm' | 'r' | 'u')), _) => {
                let i = "amru".find(c).unwrap_or(0);
                self.show[i] = !self.show[i];
                self.cursor = 0;
            }
            (code, _) => {
                let delta: isize = match code {
                    KeyCode::Up | KeyCode::Char('k') => -1,
                    KeyCode::Down | KeyCode::Char('j') => 1,
                    KeyCode::PageUp => -20,
                    KeyCode::PageDown => 20,
                    KeyCode::Home => isize::MIN / 2,
                    KeyCode::End => isize::MAX / 2,
                    _ => 0,
                };
                match self.focus {
                    Focus::Layers if delta != 0 => {
                        step(&mut self.layer, delta, self.a.layers.len());
                        self.cursor = 0;
                    }
                    Focus::Tree if delta != 0 => step(&mut self.cursor, delta, rows),
                    Focus::Tree => self.tree_key(code),
                    Focus::Layers => {}
                }
            }
        }
    }

    fn tree_key(&mut self, code: KeyCode) {
        let Some(view) = self.views.get(&self.layer) else { return };
        match code {
            KeyCode::Char(' ') | KeyCode::Enter => {
                let rows = self.rows();
                if let Some(row) = rows.get(self.cursor) {
                    let path = view.nodes[row.node].path.clone();
                    if !self.collapsed.remove(&path) && !view.nodes[row.node].children.is_empty() {
                        self.collapsed.insert(path);
                    }
                }
            }
            KeyCode::Char('c') => {
                self.collapsed = view
                    .nodes
                    .iter()
                    .filter(|n| !n.children.is_empty() && !n.path.is_empty())
                    .map(|n| n.path.clone())
                    .collect();
                self.cursor = 0;
            }
            KeyCode::Char('e') => self.collapsed.clear(),
            _ => {}
        }
    }

    fn draw(&self, f: &mut Frame<'_>) {
        let a = self.a;
        let outer = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Length(1), Constraint::Min(5), Constraint::Length(1)])
            .split(f.area());
        let title = format!(
            " {}  {}  {} layers  efficiency {:.4} %  wasted {}",
            truncate(&sanitize(&a.image), 50),
            human_bytes(a.size_bytes),
            a.layers.len(),
            a.efficiency * 100.0,
            human_bytes(a.wasted_bytes)
        );
        f.render_widget(Paragraph::new(title).style(Style::new().add_modifier(Modifier::BOLD)), outer[0]);
        let panes = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Percentage(42), Constraint::Percentage(58)])
            .split(outer[1]);
        let left = Layout::default()
            .direction(Direction::Vertical)
            .constraints([Constraint::Percentage(50), Constraint::Percentage(50)])
            .split(panes[0]);
        self.draw_layers(f, left[0]);
        self.draw_details(f, left[1]);
        self.draw_tree(f, panes[1]);
        let help = match &self.editing {
            Some(text) => format!(" filter: {text}▏  (Enter keep, Esc clear)"),
            None => format!(
                " Tab pane  ↑↓ move  Space collapse  c/e all  / filter{}  a/m/r/u toggle [{}]  q quit",
                if self.filter.is_empty() {
                    String::new()
                } else {
                    format!(" \"{}\"", sanitize(&self.filter))
                },
                ["A", "M", "R", "U"]
                    .iter()
                    .zip(self.show)
                    .map(|(s, on)| if on { *s } else { "·" })
                    .collect::<String>()
            ),
        };
        f.render_widget(Paragraph::new(help).style(Style::new().add_modifier(Modifier::REVERSED)), outer[2]);
    }

    fn block(&self, title: &str, focus: Option<Focus>) -> Block<'static> {
        let style = if focus == Some(self.focus) { Style::new().fg(Color::Cyan) } else { Style::new() };
        Block::default().borders(Borders::ALL).border_style(style).title(title.to_owned())
    }

    fn draw_layers(&self, f: &mut Frame<'_>, area: Rect) {
        let items: Vec<ListItem<'_>> = self
            .a
            .layers
            .iter()
            .map(|l| {
                let cmd = sanitize(if l.command.is_empty() { "(no command)" } else { &l.command });
                ListItem::new(format!("{:>3} {:>8}  {}", l.index, human_bytes(l.size_bytes), cmd))
            })
            .collect();
        let list = List::new(items)
            .block(self.block(" Layers ", Some(Focus::Layers)))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state = ListState::default().with_selected(Some(self.layer));
        f.render_stateful_widget(list, area, &mut state);
    }

    fn draw_details(&self, f: &mut Frame<'_>, area: Rect) {
        let a = self.a;
        let l = &a.layers[self.layer];
        let mut lines = vec![
            Line::from(format!(
                "Layer {}  {}  {}",
                l.index,
                human_bytes(l.size_bytes),
                short(&l.diff_id.to_string())
            )),
            Line::from(format!(
                "+{} files ({})  ~{}  -{} ({})",
                l.added.files,
                human_bytes(l.added.bytes),
                l.modified.files + l.metadata_only.files,
                l.removed.files,
                human_bytes(l.removed.bytes)
            )),
        ];
        if let Some(loc) = &l.location {
            lines.push(Line::from(format!("Dockerfile: {loc}")));
        }
        lines.push(Line::from(sanitize(l.created_by.as_deref().unwrap_or(&l.command))));
        lines.push(Line::from(""));
        lines.push(Line::from(Span::styled("Image", Style::new().add_modifier(Modifier::BOLD))));
        lines.push(Line::from(format!(
            "efficiency {:.4} %  wasted {}  user wasted {}",
            a.efficiency * 100.0,
            human_bytes(a.wasted_bytes),
            crate::ci::go_percent(a.user_wasted_percent)
        )));
        for i in a.inefficiencies.iter().take(5) {
            lines.push(Line::from(format!(
                "{:>2}× {:>8}  {}",
                i.count,
                human_bytes(i.wasted_bytes),
                sanitize(&i.path)
            )));
        }
        let p = Paragraph::new(lines).block(self.block(" Details ", None)).wrap(Wrap { trim: false });
        f.render_widget(p, area);
    }

    fn draw_tree(&self, f: &mut Frame<'_>, area: Rect) {
        let Some(view) = self.views.get(&self.layer) else { return };
        let rows = self.rows();
        let items: Vec<ListItem<'_>> = rows
            .iter()
            .map(|row| {
                let n = &view.nodes[row.node];
                let folded = if self.collapsed.contains(&n.path) { "⊕ " } else { "" };
                let link = n.link.as_ref().map(|t| format!(" → {}", sanitize(t))).unwrap_or_default();
                let name = if n.kind == FileKind::Dir { format!("{}/", n.name) } else { n.name.clone() };
                ListItem::new(Line::from(vec![
                    Span::styled(format!("{} ", n.mark.symbol()), n.mark.style()),
                    Span::raw(format!("{:>8}  {}", human_bytes(n.size), row.prefix)),
                    Span::styled(format!("{folded}{}{link}", sanitize(&name)), n.mark.style()),
                ]))
            })
            .collect();
        let title = format!(" Filesystem after layer {} ({} rows) ", self.layer, rows.len());
        let list = List::new(items)
            .block(self.block(&title, Some(Focus::Tree)))
            .highlight_style(Style::new().add_modifier(Modifier::REVERSED));
        let mut state =
            ListState::default().with_selected((self.focus == Focus::Tree).then_some(self.cursor));
        f.render_stateful_widget(list, area, &mut state);
    }
}

fn short(digest: &str) -> String {
    digest.split_once(':').map_or(digest, |(_, h)| h).chars().take(12).collect()
}
