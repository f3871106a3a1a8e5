/* C11 threads for a ThreadSanitizer build: thrd_*, mtx_*, cnd_*, call_once
 * defined on top of their pthread counterparts, linked into every binary of
 * build-tsan/ (CMakeLists.txt, STREAMREC_SANITIZE_THREAD) and nowhere else.
 *
 * Why: librdkafka (Debian's 2.0.2) starts its threads with glibc's
 * thrd_create and locks with mtx_lock/cnd_wait. glibc implements those by
 * calling its internal pthread functions directly, past the pthread_*
 * interceptors of TSan (GCC 12's libtsan and clang's have none for C11
 * threads). TSan never learns about the thread, and the first malloc in
 * it (rdk:mock, the broker's mock cluster) dies on a null allocator cache:
 * "ThreadSanitizer: SEGV on unknown address 0x000000000c38" (librdkafka
 * issue #4929). Locks it does not see would also leave TSan blind to the
 * hand-over between librdkafka's threads and ours: false races.
 * The executable's definitions interpose glibc's for librdkafka.so, and
 * call the pthread functions TSan intercepts. Semantics are glibc's own
 * (nptl/thrd_create.c, mtx_*.c, cnd_*.c, thrd_err.h): the same types, the
 * same error mapping. Threads: any. Owns: the start record of a thread,
 * freed when the thread starts. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

static int thrd_result(int err) {
  switch (err) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case ETIMEDOUT: return thrd_timedout;
    case EBUSY: return thrd_busy;
    default: return thrd_error;
  }
}

struct start { thrd_start_t func; void* arg; };

static void* run(void* p) {
  struct start s = *(struct start*)p;
  free(p);
  return (void*)(intptr_t)s.func(s.arg);  /* thrd_join reads the int back */
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct start* s = malloc(sizeof *s);
  if (!s) return thrd_nomem;
  s->func = func;
  s->arg = arg;
  int err = pthread_create(thr, NULL, run, s);
  if (err) free(s);
  return thrd_result(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* ret;
  int err = pthread_join(thr, &ret);
  if (res && !err) *res = (int)(intptr_t)ret;
  return thrd_result(err);
}

int thrd_detach(thrd_t thr) { return thrd_result(pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  int err = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return thrd_result(err);
}
int mtx_lock(mtx_t* m) { return thrd_result(pthread_mutex_lock((pthread_mutex_t*)m)); }
int mtx_trylock(mtx_t* m) { return thrd_result(pthread_mutex_trylock((pthread_mutex_t*)m)); }
int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict t) {
  return thrd_result(pthread_mutex_timedlock((pthread_mutex_t*)m, t));
}
int mtx_unlock(mtx_t* m) { return thrd_result(pthread_mutex_unlock((pthread_mutex_t*)m)); }
void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return thrd_result(pthread_cond_init((pthread_cond_t*)c, NULL)); }
int cnd_signal(cnd_t* c) { return thrd_result(pthread_cond_signal((pthread_cond_t*)c)); }
int cnd_broadcast(cnd_t* c) { return thrd_result(pthread_cond_broadcast((pthread_cond_t*)c)); }
int cnd_wait(cnd_t* c, mtx_t* m) { return thrd_result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m)); }
int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict t) {
  return thrd_result(pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, t));
}
void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }

void call_once(once_flag* flag, void (*func)(void)) { pthread_once((pthread_once_t*)flag, func); }
