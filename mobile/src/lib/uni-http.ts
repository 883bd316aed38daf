import { HttpError, type HttpPost } from './session';

/** JSON POST over uni.request (XMLHttpRequest on H5, wx.request on the mini-program). */
export const uniPost: HttpPost = <T>(url: string, body: unknown) =>
  new Promise<T>((resolve, reject) => {
    uni.request({
      url,
      method: 'POST',
      data: body as UniNamespace.RequestOptions['data'],
      header: { 'content-type': 'application/json' },
      success: (res) => {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve(res.data as T);
        else {
          const data = res.data as { message?: string; error?: string } | undefined;
          reject(new HttpError(res.statusCode, data?.message ?? data?.error ?? `HTTP ${res.statusCode}`));
        }
      },
      fail: (err) => reject(new Error(err.errMsg || 'network error')),
    });
  });
