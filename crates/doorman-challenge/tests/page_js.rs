//! The page's solver, run by Node.js when it is installed (skipped with a note otherwise): its
//! fallback SHA-256 against Node's, and the counters it finds, with crypto.subtle and with the
//! fallback, against Rust's `solve`.

use std::io::Write;
use std::process::{Command, Stdio};

use doorman_challenge::{Key, Keyring, RequestContext, Settings, issue_with_nonce, solve};

const SCRIPT: &str = include_str!("../src/page.js");

fn node() -> Option<&'static str> {
    ["node", "nodejs"].into_iter().find(|n| {
        Command::new(n)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn page_solver_agrees_with_rust() {
    let Some(node) = node() else {
        eprintln!("skipped: node is not installed");
        return;
    };
    let ring = Keyring::new("k1", Key::from_bytes([5; 32])).unwrap();
    let s = Settings::default();
    let ctx = RequestContext {
        now: 1_800_000_000,
        client_ip: "203.0.113.7".parse().unwrap(),
        user_agent: Some("node"),
    };
    let cases: Vec<(String, u8, u64)> = (0..6u8)
        .map(|i| {
            let d = 6 + i;
            let t = issue_with_nonce(&ring, &ctx, d, [i; 16], &s);
            let c = solve(t.as_str(), d);
            (t.0, d, c)
        })
        .collect();
    let cases_js: Vec<String> = cases
        .iter()
        .map(|(t, d, c)| format!("[{t:?}, {d}, {c}]"))
        .collect();
    let test = format!(
        r#"
const nodeCrypto = require('crypto');
const sha = solver({{}});
for (let n = 0; n < 300; n++) {{
  const b = nodeCrypto.randomBytes(n);
  const mine = Buffer.from(sha(new Uint8Array(b))).toString('hex');
  const ref = nodeCrypto.createHash('sha256').update(b).digest('hex');
  if (mine !== ref) {{ console.log('SHA MISMATCH at length ' + n); process.exit(1); }}
}}
const cases = [{cases}];
function run(withSubtle, token, difficulty) {{
  return new Promise((resolve) => {{
    const scope = {{ crypto: withSubtle ? globalThis.crypto : undefined,
      postMessage: (m) => {{ if (m.found !== undefined) resolve(m.found); }} }};
    solver(scope);
    scope.onmessage({{ data: {{ token, difficulty, start: 0, step: 1 }} }});
  }});
}}
(async () => {{
  for (const [token, difficulty, expected] of cases) {{
    for (const withSubtle of [true, false]) {{
      const found = await run(withSubtle, token, difficulty);
      if (found !== expected) {{ console.log('COUNTER MISMATCH', withSubtle, difficulty, found, expected); process.exit(1); }}
    }}
  }}
  console.log('OK');
}})();
"#,
        cases = cases_js.join(",")
    );
    let mut child = Command::new(node)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{SCRIPT}\n{test}").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == "OK",
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
