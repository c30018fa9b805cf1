/* Minimal probe for docs/device-images.md ("ONNX Runtime under qemu-user"): dlopen libonnxruntime.so, create an OrtEnv.
   Build: aarch64-linux-gnu-gcc -o ortprobe ortprobe.c -ldl; run: qemu-aarch64-static -L SYSROOT ./ortprobe path/libonnxruntime.so */
#include <dlfcn.h>
#include <stdio.h>
typedef struct { const void* (*GetApi)(unsigned); const char* (*GetVersionString)(void); } OrtApiBase;
typedef void* (*CreateEnvFn)(int, const char*, void**);
int main(int argc, char** argv) {
  void* h = dlopen(argv[1], RTLD_NOW);
  if (!h) { printf("dlopen failed: %s\n", dlerror()); return 2; }
  printf("dlopen ok\n"); fflush(stdout);
  const OrtApiBase* (*getBase)(void) = dlsym(h, "OrtGetApiBase");
  const OrtApiBase* base = getBase();
  printf("version %s\n", base->GetVersionString()); fflush(stdout);
  void** api = (void**)base->GetApi(17);
  printf("api %p\n", (void*)api); fflush(stdout);
  CreateEnvFn createEnv = (CreateEnvFn)api[3]; /* OrtApi: CreateStatus, GetErrorCode, GetErrorMessage, CreateEnv */
  void* env = 0;
  void* status = createEnv(2, "probe", &env);
  printf("CreateEnv status=%p env=%p\n", status, env);
  return status ? 1 : 0;
}
