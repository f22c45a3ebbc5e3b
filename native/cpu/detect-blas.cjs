// Prints "openblas" when a CBLAS header and libopenblas can be compiled and linked against, else "none".
// Read by binding.gyp at configure time. SSO_BLAS=none forces the built-in GEMM (used to test that path).
const { execSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

function detect() {
  if (process.env.SSO_BLAS === "none") return "none";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sso-blas-"));
  const src = path.join(dir, "probe.c");
  fs.writeFileSync(src, '#include <cblas.h>\nint main(void){float a=1,b=1,c=0;' +
    'cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,1,1,1,1.0f,&a,1,&b,1,0.0f,&c,1);return c==1.0f?0:1;}\n');
  try {
    execSync(`cc ${src} -o ${path.join(dir, "probe")} -lopenblas`, { stdio: "ignore" });
    return "openblas";
  } catch {
    return "none";
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
process.stdout.write(detect());
