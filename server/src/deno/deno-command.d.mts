export declare const DENO_MAIN: string;
export declare const DENO_PERMISSIONS: string[];
export declare const DENO_UNSTABLE: string[];
export declare function denoBinary(): string;
export declare function denoServerArgs(): string[];
