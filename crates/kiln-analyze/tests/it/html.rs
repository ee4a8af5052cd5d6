//! The HTML report in a real browser: headless Chromium loads the one file (network off by the page's CSP
//! and by flags), runs its script without a console message, shows the layer count and image size, draws
//! the treemap, and paints a screenshot that is not blank.

use std::path::Path;
use std::process::Command;

use kiln_analyze::render::{html::html, human_bytes};

/// Runs headless Chromium on `page` with `action` (`--dump-dom`, `--screenshot=...`); returns stdout and
/// the console lines it logged.
fn chromium(page: &Path, profile: &Path, action: &str) -> (String, Vec<String>) {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr.lines().filter(|l| l.contains(":CONSOLE")).map(str::to_owned).collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

#[test]
fn report_renders_in_headless_chromium() {
    kiln_test::skip_unless!(kiln_test::which("chromium").is_some(), "chromium is not installed");
    let tmp = tempfile::tempdir().unwrap();
    let a = crate::detect::wasteful_image(&tmp.path().join("image"));
    let page = tmp.path().join("report.html");
    fs_err::write(&page, html(&a).unwrap()).unwrap();

    let (dom, console) = chromium(&page, &tmp.path().join("profile"), "--dump-dom");
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(dom.contains(r#"data-rendered="ok""#), "the script did not finish");
    assert!(
        dom.contains(&format!(r#"<div class="v" id="layer-count">{}</div>"#, a.layers.len())),
        "layer count"
    );
    assert!(dom.contains(&format!(r#"id="image-size">{}</div>"#, human_bytes(a.size_bytes))), "image size");
    assert!(dom.matches("<rect").count() >= 8, "the treemap was not drawn");
    assert!(dom.contains(r#"<div id="errors"></div>"#), "the page reported a script error");

    let shot = tmp.path().join("shot.png");
    let (_, console) =
        chromium(&page, &tmp.path().join("profile"), &format!("--screenshot={}", shot.display()));
    assert!(console.is_empty(), "console messages: {console:#?}");
    let decoder = png::Decoder::new(std::io::BufReader::new(fs_err::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples();
    let mut colors = std::collections::HashSet::new();
    for p in buf[..info.buffer_size()].chunks(px) {
        colors.insert(p.to_vec());
    }
    assert!(info.width >= 1000 && info.height >= 1000, "{}x{}", info.width, info.height);
    assert!(colors.len() > 50, "the screenshot looks blank: {} distinct colors", colors.len());
}

#[test]
fn report_is_self_contained_and_escapes_hostile_names() {
    let tmp = tempfile::tempdir().unwrap();
    let layers = vec![vec![
        crate::fixture::Member::zeros("etc/</script><script>alert(1)</script>", 100),
        crate::fixture::Member::zeros("srv/<b>bold</b>", 50),
    ]];
    let history = crate::fixture::history(&["/bin/sh -c echo '<img src=x onerror=alert(1)>'"]);
    let name = crate::fixture::oci_layout(tmp.path(), &layers, &history);
    let source = kiln_analyze::open_image(&name, None, &kiln_oci::Platform::host()).unwrap();
    let a = kiln_analyze::analyze(&source, &Default::default()).unwrap();
    let page = html(&a).unwrap();
    assert!(!page.contains("<script>alert(1)"), "a path closed the data script");
    assert!(!page.contains("<img src=x"), "a command was not escaped");
    assert!(!page.contains("<b>bold</b>"));
    for external in
        ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "url(", "@import", "fetch(", "XMLHttpRequest"]
    {
        assert!(!page.contains(external), "the page references {external}");
    }
    assert_eq!(page.matches("<script").count(), 2, "one data block and one inline script");
}
